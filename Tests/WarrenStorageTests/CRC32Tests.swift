import CHotPaths
import CZlib
import XCTest

@testable import WarrenStorage

/// The folded CRC-32 must give zlib's values bit for bit: log records and snapshots written by either path are read
/// by the other (and by older builds).
final class CRC32Tests: StorageTestCase {
    private func zlibCRC(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32(uLong(crc), bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }

    func testMatchesZlibForEveryLengthAndAlignment() {
        let data = payload(1, count: 2200)
        data.withUnsafeBytes { all in
            for offset in 0..<16 {
                for length in 0...(all.count - 16) where length < 300 || length % 7 == 0 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<offset + length])
                    for start: UInt32 in [0, 0xDEADBEEF] {
                        XCTAssertEqual(CRC32.update(start, slice), zlibCRC(start, slice), "offset \(offset) length \(length) start \(start)")
                    }
                }
            }
        }
    }

    func testFoldItselfMatchesZlib() throws {
        try XCTSkipUnless(warren_crc32_fold_available() != 0, "no carry-less multiply on this CPU")
        let data = payload(2, count: 1 << 20)
        data.withUnsafeBytes { all in
            for length in [64, 80, 128, 4096, 65_536, 1 << 20] {
                let slice = UnsafeRawBufferPointer(rebasing: all[0..<length])
                XCTAssertEqual(warren_crc32_fold(0x1234_5678, slice.baseAddress!.assumingMemoryBound(to: UInt8.self), length),
                               zlibCRC(0x1234_5678, slice), "length \(length)")
            }
        }
    }

    func testChainedUpdatesEqualOnePass() {
        let data = payload(3, count: 100_000)
        data.withUnsafeBytes { all in
            var crc: UInt32 = 0
            var offset = 0
            for piece in [1, 255, 256, 257, 4096, 17, 33_333] where offset < all.count {
                let end = min(offset + piece, all.count)
                crc = CRC32.update(crc, UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
            crc = CRC32.update(crc, UnsafeRawBufferPointer(rebasing: all[offset...]))
            XCTAssertEqual(crc, zlibCRC(0, all))
            XCTAssertEqual(CRC32.checksum(all), zlibCRC(0, all))
        }
    }

    func testKnownValue() {
        // The CRC-32 check value of "123456789", repeated so the folded path takes most of it.
        let text = Array("123456789".utf8)
        XCTAssertEqual(CRC32.checksum(text), 0xCBF4_3926)
        let long = [UInt8](repeating: 0x61, count: 1000)
        long.withUnsafeBytes { XCTAssertEqual(CRC32.checksum($0), zlibCRC(0, $0)) }
    }
}
