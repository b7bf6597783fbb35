import WarrenJute
import XCTest
@testable import ZKFS

final class NameSpecTests: XCTestCase {
    func testPlainNamesHaveNoSuffixes() throws {
        for name in ["config", "user@host", "a@b@c", "@", "x@", "mail@example.com"] {
            let spec = try NameSpec.parse(name)
            XCTAssertFalse(spec.hasSuffixes, name)
            XCTAssertEqual(spec.base, name)
            XCTAssertEqual(spec.createMode, .persistent)
        }
    }

    func testSuffixesCombineInAnyOrder() throws {
        for name in ["lock@e@s", "lock@s@e", "lock@ephemeral@sequential", "lock@sequential@e"] {
            let spec = try NameSpec.parse(name)
            XCTAssertEqual(spec.base, "lock", name)
            XCTAssertEqual(spec.createMode, .ephemeralSequential, name)
        }
        XCTAssertEqual(try NameSpec.parse("job-@s").createMode, .persistentSequential)
        XCTAssertEqual(try NameSpec.parse("job-@s").base, "job-")
        XCTAssertEqual(try NameSpec.parse("c@container").createMode, .container)
        XCTAssertEqual(try NameSpec.parse("e@e").createMode, .ephemeral)
    }

    func testSuffixParsingStopsAtTheFirstNonSuffix() throws {
        let spec = try NameSpec.parse("user@host@e")
        XCTAssertEqual(spec.base, "user@host")
        XCTAssertTrue(spec.ephemeral)
        XCTAssertEqual(try NameSpec.parse("a@e@host").base, "a@e@host")
    }

    func testTTLAndVersion() throws {
        let ttl = try NameSpec.parse("t@ttl=30")
        XCTAssertEqual(ttl.ttlMs, 30_000)
        XCTAssertEqual(ttl.createMode, .persistentWithTTL)
        XCTAssertEqual(try NameSpec.parse("t@ttl=5@s").createMode, .persistentSequentialWithTTL)
        let v = try NameSpec.parse("config@v=7")
        XCTAssertEqual(v.expectedVersion, 7)
        XCTAssertEqual(v.base, "config")
        XCTAssertFalse(v.createsNode)
    }

    func testHeldIsAnEphemeral() throws {
        let spec = try NameSpec.parse("lock@held")
        XCTAssertTrue(spec.held)
        XCTAssertEqual(spec.createMode, .ephemeral)
        XCTAssertEqual(try NameSpec.parse("lock@held@s").createMode, .ephemeralSequential)
    }

    func testContradictionsAreRefused() {
        for name in ["x@container@e", "x@container@s", "x@ttl=3@e", "x@ttl=3@held", "x@v=1@s", "x@e@v=2",
                     "@e", "x@ttl=0", "x@ttl=abc", "x@v=-1", "x@v=99999999999"] {
            XCTAssertThrowsError(try NameSpec.parse(name), name)
        }
        XCTAssertEqual(try NameSpec.parse("@s").base, "")
    }
}
