import Logging
import WarrenJute
import WarrenTree
import WarrenZab

/// Dynamic reconfiguration. A `reconfig` request becomes, on the leader, a setData txn of `/zookeeper/config`
/// holding the new membership's text with the txn's zxid as its version (as in ZooKeeper). Zab recognises such
/// entries (`configChange(in:)`), commits them on a quorum of both the old and the new voters, and every server
/// switches to the new membership when it delivers one (`membershipActivated`); the shell then connects to the new
/// servers and writes the new dynamic config file.
package extension ServerCore {
    static let configPath = "/zookeeper/config"
    private static let configPathBytes = Array(configPath.utf8)

    /// The membership a log entry installs, or nil when it is not a reconfig. Cheap for every other entry: the
    /// compact txn's type byte and path are checked before anything is decoded.
    static func configChange(in entry: LogEntry) -> DynamicConfig? {
        let p = entry.payload
        var i = 8
        for _ in 0..<2 {  // cxid and timeMs, varints
            while i < p.count && p[i] & 0x80 != 0 { i += 1 }
            i += 1
        }
        let n = configPathBytes.count
        guard i + 2 + n <= p.count, p[i] == UInt8(OpCode.setData.rawValue), p[i + 1] == UInt8(n),
              p[(i + 2)..<(i + 2 + n)].elementsEqual(configPathBytes),
              let txn = try? Txn(compact: p, zxid: entry.zxid.raw), case let .setData(_, data?, _) = txn.body,
              let config = try? DynamicConfig.parse(String(decoding: data, as: UTF8.self)) else { return nil }
        return config
    }

    /// At start: `/zookeeper/config` gets this server's membership unless the tree already holds it or a newer
    /// one. A snapshot taken before the membership was versioned (or before the last change, whose txn then
    /// comes back with the log) holds an older text; every member corrects it the same way, so trees stay equal.
    func installConfigNode(_ membership: DynamicConfig) {
        let replacing = configInTree.map { $0.version < membership.version } ?? true
        tree.installConfigData(Array(membership.text.utf8), mzxid: membership.version, replacing: replacing)
    }

    /// A log entry standing for `membership` (version ≠ 0) where no reconfig entry is at hand — at start, from the
    /// dynamic file, or when zoo.cfg's membership is versioned — for Zab's notifications (`ZabNode.configEntry`).
    static func configEntry(for membership: DynamicConfig) -> LogEntry? {
        guard membership.version != 0 else { return nil }
        let txn = Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: membership.version, timeMs: 0),
                      body: .setData(path: configPath, data: Array(membership.text.utf8), version: 0))
        return LogEntry(zxid: Zxid(raw: membership.version), payload: txn.compactBytes())
    }

    /// What `/zookeeper/config` holds now (a reconfig's reply carries it).
    var configNodeData: [UInt8]? {
        guard case .success(let r) = tree.getData(Self.configPath, ctx: .superUser()) else { return nil }
        return r.data
    }

    /// The membership `/zookeeper/config` describes now, nil if it holds none (or text that does not parse).
    var configInTree: DynamicConfig? {
        configNodeData.flatMap { try? DynamicConfig.parse(String(decoding: $0, as: UTF8.self)) }
    }

    /// The leader's preparation of a client write: reconfigs here, everything else by the tree. Clients may not
    /// set `/zookeeper/config` directly in an ensemble (the membership would change without the checks below).
    func prepareEnsembleWrite(_ op: WriteOp, ctx: SessionContext, cxid: Int32, zxid: Zxid, timeMs: Int64) -> Result<Txn, ErrorCode> {
        switch op {
        case let .reconfig(joining, leaving, newMembers, fromConfig):
            let header = TxnHeader(sessionId: ctx.sessionId, cxid: cxid, zxid: zxid.raw, timeMs: timeMs)
            return prepareReconfig(joining: joining, leaving: leaving, newMembers: newMembers, fromConfig: fromConfig,
                                   ctx: ctx, header: header)
        case let .setData(path, _, _) where path == Self.configPath:
            return .failure(mayWriteConfigNode(ctx) ? .badArguments : .noAuth)
        case let .multi(ops) where ops.contains { if case .setData(Self.configPath, _, _) = $0 { true } else { false } }:
            return .failure(mayWriteConfigNode(ctx) ? .badArguments : .noAuth)
        default:
            return tree.prepare(op, ctx: ctx, cxid: cxid, zxid: zxid.raw, timeMs: timeMs)
        }
    }

    /// WRITE on `/zookeeper/config` (world-readable only unless an admin changed its ACL; the super user has it).
    private func mayWriteConfigNode(_ ctx: SessionContext) -> Bool {
        guard case .success(let node) = tree.getACL(Self.configPath, ctx: .superUser()) else { return false }
        return ACLRules.isAllowed(node.acl, .write, ids: ctx.authIds)
    }

    /// ZooKeeper's checks, in its order: reconfig enabled; WRITE on `/zookeeper/config` (the super user has it; the
    /// node is world-readable only); no other reconfig still uncommitted; a well-formed request that changes
    /// something; `fromConfig` -1 or the current version; the new voters that are synced with this leader (it
    /// included) form a quorum of the new voters, so the change can commit.
    private func prepareReconfig(joining: String?, leaving: String?, newMembers: String?, fromConfig: Int64,
                                 ctx: SessionContext, header: TxnHeader) -> Result<Txn, ErrorCode> {
        guard config.reconfigEnabled, let ens = ensemble, let synced = ens.zab.syncedServers else {
            return .failure(.reconfigDisabled)
        }
        guard mayWriteConfigNode(ctx), case .success(let node) = tree.getACL(Self.configPath, ctx: .superUser()) else {
            return .failure(.noAuth)
        }
        guard !ens.zab.reconfigInProgress else { return .failure(.reconfigInProgress) }
        var next: DynamicConfig
        do {
            next = try ens.membership.applying(joining: joining, leaving: leaving, newMembers: newMembers)
        } catch {
            return .failure(error)
        }
        guard fromConfig == -1 || fromConfig == ens.membership.version else { return .failure(.badVersion) }
        let voters = next.members.filter { $0.value == .participant }.keys
        guard voters.filter(synced.contains).count * 2 > voters.count else { return .failure(.newConfigNoQuorum) }
        next.version = header.zxid
        let version = node.stat.version &+ 1
        return .success(Txn(header: header, body: .setData(path: Self.configPath, data: Array(next.text.utf8),
                                                           version: version == -1 ? 0 : version)))
    }

    /// A membership from zoo.cfg's server lines has no version yet; as in ZooKeeper it gets one when it first
    /// serves, the first zxid of that epoch (`100000000` on a fresh ensemble), and moves to a dynamic file. Every
    /// server of the leadership computes the same from the same epoch, and a server that joins later syncs a tree
    /// that already holds the version (a learner without history always gets a SNAP) and adopts it — unless it is
    /// not a member (a server waiting to be added keeps its own zoo.cfg, so it can restart as it started).
    func versionConfig(epoch: Int64) -> [CoreAction] {
        guard let ens = ensemble, ens.membership.version == 0 else { return [] }
        var next: DynamicConfig
        if let inTree = configInTree, inTree.version != 0 {
            guard inTree.members[config.myid] != nil else { return [] }
            next = inTree
        } else {
            next = ens.membership
            next.version = Zxid(epoch: epoch, counter: 0).raw
            tree.installConfigData(Array(next.text.utf8), mzxid: next.version, replacing: true)
        }
        ens.membership = next
        if let entry = Self.configEntry(for: next), next.members == ens.zab.config.members { ens.zab.stampMembership(entry) }
        logger.info("membership versioned", metadata: ["version": "0x\(Self.hex(next.version))"])
        return [.membershipChanged(next)]
    }

    /// Zab delivered a reconfig entry (applied to the tree just before) and switched to its membership.
    func membershipActivated(by entry: LogEntry, members: [ServerId: MemberRole]) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        guard let next = Self.configChange(in: entry), next.members == members else {
            preconditionFailure("membership change \(entry.zxid) to \(members) does not decode to the same membership")
        }
        let before = ens.membership
        ens.membership = next
        // A membership adopted from a peer's notification (its versioned zoo.cfg membership, or a committed
        // reconfig whose txn has not reached this server) has not been applied to the tree: without this, a server
        // that restarted before it first served kept zoo.cfg's unversioned text while the others held the
        // versioned one, and a DIFF sync never sends the node (found by EnsembleSim, seed 41). A delivered reconfig
        // is already in the tree, and its txn overwrites the node anyway.
        installConfigNode(next)
        logger.info("membership changed", metadata: [
            "version": "0x\(Self.hex(next.version))", "from": "\(before.members.keys.sorted())",
            "voters": "\(next.members.filter { $0.value == .participant }.keys.sorted())",
            "observers": "\(next.members.filter { $0.value == .observer }.keys.sorted())",
        ])
        if next.members[config.myid] == nil {
            logger.warning("this server is no longer a member of the ensemble; it follows without a vote until a reconfig adds it back")
        }
        return [.membershipChanged(next)]
    }
}
