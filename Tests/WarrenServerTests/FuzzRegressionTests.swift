import WarrenJute
import XCTest

@testable import WarrenServer

/// Inputs the fuzzer (Sources/warren-fuzz) found crashing the server's decoders; each must now be refused with
/// a typed error. The same inputs sit in Tests/fuzz/corpus, so `run.sh replay` covers them too.
final class FuzzRegressionTests: XCTestCase {
    /// `server.N=` with nothing after it split into no parts, and the peer parser indexed the first one.
    func testPeerLineWithEmptyValueIsAConfigError() {
        for text in ["server.2=", "tickTime=2000\nserver.1=\n", "server.3 : "] {
            XCTAssertThrowsError(try ServerConfig.parse(text), text) { error in
                XCTAssertTrue(error is ConfigError, "\(text): \(error)")
            }
        }
    }

    /// A begin frame announcing 60 GB (under the 64 GB limit) reserved all of it up front: an allocation that
    /// fails, and traps, on any machine without that much memory. The stream is now accepted at no cost and
    /// refused at its end for the bytes that never came.
    func testAnnouncedSizeIsNotReservedUpFront() throws {
        let announced: Int64 = 60 << 30
        var begin = JuteWriter()
        begin.writeInt(SnapshotStream.beginTag)
        begin.writeLong(3)
        begin.writeLong(0x3_0000_0001)
        begin.writeLong(announced)
        var end = JuteWriter()
        end.writeInt(SnapshotStream.endTag)
        end.writeInt(0)
        end.writeInt(0)
        var r = SnapshotReassembler()
        XCTAssertNil(try r.accept(begin.bytes))
        XCTAssertTrue(r.isOpen)
        XCTAssertThrowsError(try r.accept(end.bytes)) { error in
            XCTAssertEqual(error as? SnapshotStreamError, .truncated(receivedBytes: 0, totalBytes: announced))
        }
    }
}
