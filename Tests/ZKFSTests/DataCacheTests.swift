import WarrenJute
import XCTest
@testable import ZKFS

final class DataCacheTests: XCTestCase {
    private func stat(version: Int32) -> Stat {
        var s = Stat()
        s.version = version
        return s
    }

    private func filled(_ cache: DataCache, _ path: String, _ bytes: [UInt8], version: Int32 = 0) {
        let ticket = cache.ticket()
        XCTAssertNotNil(ticket, "a live cache gives tickets")
        cache.store(path, data: bytes, stat: stat(version: version), ticket: ticket!)
    }

    func testServesNothingUntilLive() {
        let cache = DataCache()
        XCTAssertNil(cache.ticket())
        XCTAssertNil(cache.lookup("/a"))
        cache.setLive(true)
        filled(cache, "/a", [1, 2, 3], version: 4)
        let hit = cache.lookup("/a")
        XCTAssertEqual(hit?.data, [1, 2, 3])
        XCTAssertEqual(hit?.stat.version, 4)
    }

    func testWatchEventDropsTheEntryAndARacingReadDoesNotStore() {
        let cache = DataCache()
        cache.setLive(true)
        filled(cache, "/a", [1])
        let ticket = cache.ticket()!  // a read of /b is sent...
        cache.invalidate("/a")  // ...an event arrives before its reply is stored
        XCTAssertNil(cache.lookup("/a"))
        cache.store("/b", data: [9], stat: stat(version: 1), ticket: ticket)
        XCTAssertNil(cache.lookup("/b"), "a reply that raced with an event may be older than the event")
        filled(cache, "/b", [9], version: 2)
        XCTAssertEqual(cache.lookup("/b")?.stat.version, 2)
    }

    func testLosingTheWatchDropsEverythingAndStopsServing() {
        let cache = DataCache()
        cache.setLive(true)
        filled(cache, "/a", [1])
        let ticket = cache.ticket()!
        cache.setLive(false)  // disconnected
        XCTAssertNil(cache.lookup("/a"))
        XCTAssertEqual(cache.count, 0)
        XCTAssertEqual(cache.totalBytes, 0)
        cache.store("/a", data: [1], stat: stat(version: 0), ticket: ticket)
        cache.setLive(true)  // reconnected: nothing from before the gap comes back
        XCTAssertNil(cache.lookup("/a"))
        XCTAssertNotEqual(cache.ticket(), ticket)
    }

    func testEntriesAndBytesAreBoundedLeastRecentlyUsedFirst() {
        let cache = DataCache(limits: .init(entriesMax: 8, bytesMax: 100, entryBytesMax: 40))
        cache.setLive(true)
        filled(cache, "/big", Array(repeating: 0, count: 41))
        XCTAssertNil(cache.lookup("/big"), "larger than entryBytesMax")
        for i in 0..<8 { filled(cache, "/n\(i)", [UInt8(i)]) }
        XCTAssertNotNil(cache.lookup("/n0"))  // now the most recently used
        filled(cache, "/n8", [8])
        XCTAssertLessThanOrEqual(cache.count, 8)
        XCTAssertNotNil(cache.lookup("/n0"))
        XCTAssertNil(cache.lookup("/n1"), "the least recently used goes first")
        for i in 0..<5 { filled(cache, "/w\(i)", Array(repeating: UInt8(i), count: 30)) }
        XCTAssertLessThanOrEqual(cache.totalBytes, 100)
        XCTAssertNotNil(cache.lookup("/w4"))
        XCTAssertEqual(cache.lookup("/w4")?.data.count, 30)
    }

    func testRestoringAnEntryKeepsTheByteCountRight() {
        let cache = DataCache()
        cache.setLive(true)
        filled(cache, "/a", [1, 2, 3])
        filled(cache, "/a", [1])
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.totalBytes, 1)
        cache.invalidate("/a")
        XCTAssertEqual(cache.totalBytes, 0)
    }
}
