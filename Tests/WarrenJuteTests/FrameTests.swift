import XCTest
@testable import WarrenJute

final class FrameTests: XCTestCase {
    func testEncodePrefixesBigEndianLength() {
        XCTAssertEqual(Frame.encode([7, 8, 9]), [0, 0, 0, 3, 7, 8, 9])
        XCTAssertEqual(Frame.encode([]), [0, 0, 0, 0])
        XCTAssertEqual(Array(Frame.encode(Array(repeating: 1, count: 0x1_0203)).prefix(4)), [0, 1, 2, 3])
    }

    func testSplitAndCoalescedInput() throws {
        let payloads: [[UInt8]] = [[1], [], Array(0..<200), [42, 43]]
        let stream = payloads.flatMap(Frame.encode)
        // Every chunk size, from byte-at-a-time to the whole stream at once, yields the same frames.
        for chunk in 1...stream.count {
            var decoder = FrameDecoder()
            var out: [[UInt8]] = []
            var i = 0
            while i < stream.count {
                decoder.feed(stream[i..<min(i + chunk, stream.count)])
                i += chunk
                while let frame = try decoder.next() { out.append(frame) }
            }
            XCTAssertEqual(out, payloads, "chunk size \(chunk)")
            XCTAssertEqual(decoder.bufferedBytes, 0)
        }
    }

    func testPartialFrameWaits() throws {
        var decoder = FrameDecoder()
        decoder.feed([0, 0, 0, 3, 1, 2])
        XCTAssertNil(try decoder.next())
        XCTAssertEqual(decoder.bufferedBytes, 6)
        decoder.feed([3, 0, 0])
        XCTAssertEqual(try decoder.next(), [1, 2, 3])
        XCTAssertNil(try decoder.next())
        XCTAssertEqual(decoder.bufferedBytes, 2)
    }

    func testNegativeLengthIsRejectedAndSticky() {
        var decoder = FrameDecoder()
        decoder.feed([0xff, 0xff, 0xff, 0xfe])
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual($0 as? FrameError, .negativeLength(-2)) }
        decoder.feed([0, 0, 0, 0])
        XCTAssertThrowsError(try decoder.next()) { XCTAssertEqual($0 as? FrameError, .negativeLength(-2)) }
    }

    func testLengthLimitMatchesJuteMaxBuffer() throws {
        XCTAssertEqual(FrameDecoder.frameBytesMaxDefault, 0xfffff)
        var decoder = FrameDecoder()
        // Exactly the limit is accepted (ZooKeeper rejects only len > jute.maxbuffer), judged from the prefix alone.
        decoder.feed([0x00, 0x0f, 0xff, 0xff])
        XCTAssertNil(try decoder.next())
        decoder = FrameDecoder()
        decoder.feed([0x00, 0x10, 0x00, 0x00])
        XCTAssertThrowsError(try decoder.next()) {
            XCTAssertEqual($0 as? FrameError, .tooLarge(length: 0x10_0000, frameBytesMax: 0xfffff))
        }
        var small = FrameDecoder(frameBytesMax: 2)
        small.feed(Frame.encode([1, 2]) + Frame.encode([1, 2, 3]))
        XCTAssertEqual(try small.next(), [1, 2])
        XCTAssertThrowsError(try small.next()) {
            XCTAssertEqual($0 as? FrameError, .tooLarge(length: 3, frameBytesMax: 2))
        }
    }
}
