import WarrenJute
import XCTest

@testable import WarrenTree

final class ACLTests: XCTestCase {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testSHA1Vectors() {
        XCTAssertEqual(hex(SHA1.hash(Array("".utf8))), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(SHA1.hash(Array("abc".utf8))), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(SHA1.hash(Array("The quick brown fox jumps over the lazy dog".utf8))),
                       "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))),
                       "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        // 55/56/64-byte messages exercise the padding boundaries.
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 55))), "c1c8bbdc22796e28c0e15163d20899b65621d65a")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 56))), "c2db330f6083854c99d4b5bfb6e8f29f201be699")
        XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: 0x61, count: 64))), "0098ba824b5c16427bd7a1122a5a442a25ec644d")
    }

    func testBase64() {
        XCTAssertEqual(Base64.encode([]), "")
        XCTAssertEqual(Base64.encode(Array("f".utf8)), "Zg==")
        XCTAssertEqual(Base64.encode(Array("fo".utf8)), "Zm8=")
        XCTAssertEqual(Base64.encode(Array("foo".utf8)), "Zm9v")
        XCTAssertEqual(Base64.encode(Array("foobar".utf8)), "Zm9vYmFy")
        XCTAssertEqual(Base64.encode([0xFB, 0xFF]), "+/8=")
    }

    func testDigestIdMatchesZooKeeper() {
        // Values printed by ZooKeeper 3.8's `DigestAuthenticationProvider.main`.
        XCTAssertEqual(ACLRules.digestId(user: "super", password: "superpw"), "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=")
        XCTAssertEqual(ACLRules.digestId(credentials: "bob:pw"), "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=")
        XCTAssertEqual(ACLRules.digestId(credentials: "user:pass:word"), "user:" + Base64.encode(SHA1.hash(Array("user:pass:word".utf8))))
        let ids = ACLRules.digestAuthIds(credentials: "super:superpw", superDigest: "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=")
        XCTAssertEqual(ids, [Id(scheme: "super", id: ""), Id(scheme: "digest", id: "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=")])
        XCTAssertEqual(ACLRules.digestAuthIds(credentials: "bob:pw", superDigest: "super:g9oN2HttPfn8MMWJZ2r45Np/LIA=").map(\.scheme), ["digest"])
    }

    func testFixupValidatesAndExpands() {
        let digest = Id(scheme: "digest", id: "bob:abc=")
        let ip = Id(scheme: "ip", id: "127.0.0.1")
        let fixed = ACLRules.fixup(ACL.creatorAll + ACL.readUnsafe + ACL.readUnsafe, authIds: [ip, digest, Id(scheme: "super", id: "")])
        XCTAssertEqual(try fixed.get(), [ACL(perms: .all, id: digest), ACL(perms: .read, id: .anyoneUnsafe)],
                       "auth expands to authenticated (digest) ids only; duplicates dropped")
        XCTAssertEqual(ACLRules.fixup(ACL.creatorAll, authIds: [ip]).failure, .invalidACL, "ip ids are not 'authenticated'")
        XCTAssertEqual(ACLRules.fixup(ACL.creatorAll, authIds: []).failure, .invalidACL)
        XCTAssertEqual(ACLRules.fixup([], authIds: []).failure, .invalidACL)
        let invalid: [Id] = [
            Id(scheme: "world", id: "someone"), Id(scheme: "unknown", id: "x"), Id(scheme: "super", id: ""),
            Id(scheme: "digest", id: "nocolon"), Id(scheme: "digest", id: "a:b:c"), Id(scheme: "digest", id: "user:"),
            Id(scheme: "ip", id: "1.2.3"), Id(scheme: "ip", id: "1.2.3.256"), Id(scheme: "ip", id: "1.2.3.4/33"),
            Id(scheme: "ip", id: "1.2.3.4/"), Id(scheme: "ip", id: "::1/129"), Id(scheme: "ip", id: "host.example"),
        ]
        for id in invalid {
            XCTAssertEqual(ACLRules.fixup([ACL(perms: .read, id: id)], authIds: []).failure, .invalidACL, "\(id)")
        }
        let valid: [Id] = [
            Id(scheme: "digest", id: "a:b"), Id(scheme: "digest", id: ":b"), Id(scheme: "digest", id: "a:b:"),
            Id(scheme: "ip", id: "10.0.0.0/8"), Id(scheme: "ip", id: "0.0.0.0/0"), Id(scheme: "ip", id: "::1"),
            Id(scheme: "ip", id: "fe80::/10"), Id(scheme: "ip", id: "::ffff:10.1.2.3"),
        ]
        for id in valid {
            XCTAssertNoThrow(try ACLRules.fixup([ACL(perms: .read, id: id)], authIds: []).get(), "\(id)")
        }
    }

    func testPermissionChecks() {
        let bob = Id(scheme: "digest", id: "bob:hash")
        let acl = [ACL(perms: [.read, .write], id: bob), ACL(perms: .read, id: Id(scheme: "ip", id: "10.1.0.0/16"))]
        XCTAssertTrue(ACLRules.isAllowed(acl, .write, ids: [bob]))
        XCTAssertFalse(ACLRules.isAllowed(acl, .delete, ids: [bob]))
        XCTAssertFalse(ACLRules.isAllowed(acl, .write, ids: [Id(scheme: "digest", id: "bob:other")]))
        XCTAssertTrue(ACLRules.isAllowed(acl, .read, ids: [Id(scheme: "ip", id: "10.1.200.3")]))
        XCTAssertFalse(ACLRules.isAllowed(acl, .read, ids: [Id(scheme: "ip", id: "10.2.0.1")]))
        XCTAssertFalse(ACLRules.isAllowed(acl, .write, ids: [Id(scheme: "ip", id: "10.1.0.1")]))
        XCTAssertTrue(ACLRules.isAllowed(acl, .admin, ids: [Id(scheme: "super", id: "")]))
        XCTAssertTrue(ACLRules.isAllowed([], .admin, ids: []), "an empty ACL allows everything")
        XCTAssertTrue(ACLRules.isAllowed(ACL.readUnsafe, [.read, .admin], ids: []), "any of the requested perms is enough")
        XCTAssertFalse(ACLRules.isAllowed([ACL(perms: .all, id: Id(scheme: "world", id: "nobody"))], .read, ids: [Id(scheme: "world", id: "nobody")]))
    }

    func testIPMatching() {
        func matches(_ expr: String, _ addr: String) -> Bool {
            ACLRules.Scheme.ip.matches(id: addr, aclExpression: expr)
        }
        XCTAssertTrue(matches("127.0.0.1", "127.0.0.1"))
        XCTAssertFalse(matches("127.0.0.1", "127.0.0.2"))
        XCTAssertTrue(matches("192.168.1.0/24", "192.168.1.77"))
        XCTAssertTrue(matches("192.168.1.0/23", "192.168.0.77"))
        XCTAssertFalse(matches("192.168.1.0/24", "192.168.2.1"))
        XCTAssertTrue(matches("10.0.0.0/0", "1.2.3.4"))
        XCTAssertTrue(matches("10.255.0.0/9", "10.128.0.1"))
        XCTAssertFalse(matches("10.255.0.0/9", "10.127.0.1"))
        XCTAssertTrue(matches("::1", "0:0:0:0:0:0:0:1"))
        XCTAssertTrue(matches("2001:db8::/32", "2001:db8:1234::5"))
        XCTAssertFalse(matches("2001:db8::/32", "2001:db9::5"))
        XCTAssertTrue(matches("fe80::1%eth0", "fe80::1"))
        XCTAssertFalse(matches("::1", "127.0.0.1"), "families never match each other")
        XCTAssertFalse(matches("127.0.0.1", "::1"))
        XCTAssertEqual(IPPattern.parseAddress("::ffff:1.2.3.4"), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4])
        XCTAssertEqual(IPPattern.parseAddress("1::"), [0, 1] + [UInt8](repeating: 0, count: 14))
        XCTAssertNil(IPPattern.parseAddress("1::2::3"))
        XCTAssertNil(IPPattern.parseAddress("1:2:3:4:5:6:7:8:9"))
        XCTAssertNil(IPPattern.parseAddress("12345::"))
        XCTAssertNil(IPPattern.parseAddress("1:2:3:4:5:6:7::8"), ":: must stand for at least one group")
    }

    func testTreeEnforcesACLsOnEveryOp() throws {
        let h = TreeHarness()
        let alice = SessionContext(sessionId: 1, authIds: [Id(scheme: "digest", id: ACLRules.digestId(user: "alice", password: "pw"))])
        let eve = SessionContext(sessionId: 2, authIds: [Id(scheme: "digest", id: ACLRules.digestId(user: "eve", password: "pw"))])
        h.create("/a", "data", acl: ACL.creatorAll, ctx: alice)
        XCTAssertEqual(h.tree.acl(of: "/a"), [ACL(perms: .all, id: alice.authIds[0])])

        XCTAssertEqual(h.tree.getData("/a", ctx: eve).failure, .noAuth)
        XCTAssertEqual(h.tree.getChildren("/a", ctx: eve).failure, .noAuth)
        XCTAssertEqual(h.tree.getAllChildrenNumber("/a", ctx: eve).failure, .noAuth)
        XCTAssertEqual(h.tree.getACL("/a", ctx: eve).failure, .noAuth)
        XCTAssertNotNil(h.tree.exists("/a"), "exists has no ACL check")
        XCTAssertEqual(h.error(.setData(path: "/a", data: [], version: -1), eve), .noAuth)
        XCTAssertEqual(h.error(.create(path: "/a/b", data: [], acl: ACL.openUnsafe, mode: .persistent), eve), .noAuth)
        XCTAssertEqual(h.error(.setACL(path: "/a", acl: ACL.openUnsafe, version: -1), eve), .noAuth)
        XCTAssertEqual(h.error(.check(path: "/a", version: -1), eve), .noAuth)

        XCTAssertNoThrow(try h.tree.getData("/a", ctx: alice).get())
        h.create("/a/b", ctx: alice)
        // Delete needs DELETE on the parent, not on the node.
        XCTAssertEqual(h.error(.delete(path: "/a/b", version: -1), eve), .noAuth)
        XCTAssertNil(h.error(.setACL(path: "/a", acl: [ACL(perms: [.read, .delete], id: .anyoneUnsafe)], version: 0), alice))
        XCTAssertNil(h.error(.delete(path: "/a/b", version: -1), eve))
        XCTAssertEqual(h.stat("/a")?.aversion, 1)
        XCTAssertEqual(h.error(.setACL(path: "/a", acl: ACL.openUnsafe, version: 0), .superUser()), .badVersion)
        XCTAssertNil(h.error(.setACL(path: "/a", acl: ACL.openUnsafe, version: 1), .superUser()), "super bypasses ACLs")
        XCTAssertEqual(h.error(.setData(path: "/zookeeper/config", data: [], version: -1)), .noAuth, "config is read-only")
    }

    func testGetACLRedactsDigestsWithoutAdmin() throws {
        let h = TreeHarness()
        let aliceId = Id(scheme: "digest", id: ACLRules.digestId(user: "alice", password: "pw"))
        let acl = [ACL(perms: .read, id: .anyoneUnsafe), ACL(perms: .all, id: aliceId)]
        h.create("/r", acl: acl)
        let anon = try h.tree.getACL("/r", ctx: .anyone).get()
        XCTAssertEqual(anon.acl, [ACL(perms: .read, id: .anyoneUnsafe), ACL(perms: .all, id: Id(scheme: "digest", id: "alice:x"))])
        let owner = try h.tree.getACL("/r", ctx: SessionContext(sessionId: 1, authIds: [aliceId])).get()
        XCTAssertEqual(owner.acl, acl)
        XCTAssertEqual(owner.stat, h.stat("/r"))
    }

    func testSetACLValidatesAndBumpsAversionOnly() throws {
        let h = TreeHarness()
        h.create("/n", "d")
        let before = try XCTUnwrap(h.stat("/n"))
        XCTAssertEqual(h.error(.setACL(path: "/n", acl: [], version: -1)), .invalidACL)
        XCTAssertEqual(h.error(.setACL(path: "/n", acl: ACL.creatorAll, version: -1)), .invalidACL)
        XCTAssertEqual(h.error(.setACL(path: "/missing", acl: ACL.openUnsafe, version: -1)), .noNode)
        XCTAssertEqual(h.error(.setACL(path: "bad", acl: ACL.openUnsafe, version: -1)), .badArguments)
        let r = try h.run(.setACL(path: "/n", acl: ACL.readUnsafe, version: 0)).get()
        guard case let .setACL(stat) = r.result else { return XCTFail("\(r.result)") }
        var expected = before
        expected.aversion = 1
        XCTAssertEqual(stat, expected)
        XCTAssertEqual(r.triggers, [], "setACL fires no watches")
        XCTAssertEqual(h.tree.acl(of: "/n"), ACL.readUnsafe)
    }

    func testACLListsAreInternedAndReleased() {
        let h = TreeHarness()
        let base = h.tree.aclListCount
        let custom = [ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.1"))]
        h.create("/a", acl: custom)
        h.create("/b", acl: custom)
        XCTAssertEqual(h.tree.aclListCount, base + 1)
        XCTAssertNil(h.error(.delete(path: "/a", version: -1), .superUser()))
        XCTAssertEqual(h.tree.aclListCount, base + 1)
        XCTAssertNil(h.error(.delete(path: "/b", version: -1), .superUser()))
        XCTAssertEqual(h.tree.aclListCount, base)
    }
}

final class SuperDigestTests: XCTestCase {
    func testConfiguredSuperDigestGrantsEverything() throws {
        let h = TreeHarness(config: TreeConfig(superDigest: DataTree.digestId(user: "super", password: "superpw")))
        h.create("/locked", acl: [ACL(perms: .read, id: Id(scheme: "digest", id: "someone:else"))])
        let admin = SessionContext(sessionId: 1, authIds: h.tree.digestAuthIds(credentials: "super:superpw"))
        XCTAssertTrue(admin.isSuper)
        let mallory = SessionContext(sessionId: 2, authIds: h.tree.digestAuthIds(credentials: "super:guess"))
        XCTAssertFalse(mallory.isSuper)
        XCTAssertEqual(h.error(.setData(path: "/locked", data: [1], version: -1), mallory), .noAuth)
        XCTAssertNil(h.error(.setData(path: "/locked", data: [1], version: -1), admin))
        XCTAssertEqual(try h.tree.getACL("/locked", ctx: admin).get().acl.first?.id.id, "someone:else", "super sees unredacted ACLs")
    }
}
