import WarrenJute
import XCTest

@testable import WarrenCore
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

    /// `tickTime=+0006335828050630614129` parsed as an Int and overflowed `20 * tickTime` (the default session
    /// timeout); the server also narrows the tick to Int32. Numbers beyond a Java int are refused, as ZooKeeper does.
    func testSettingsBeyondAJavaIntAreConfigErrors() throws {
        for text in ["tickTime=+0006335828050630614129\n", "tickTime=2147483648", "minSessionTimeout=0x80000000",
                     "initLimit=-2147483649"] {
            XCTAssertThrowsError(try ServerConfig.parse(text), text) { error in
                XCTAssertTrue(error is ConfigError, "\(text): \(error)")
            }
        }
        let config = try ServerConfig.parse("tickTime=2147483647")
        XCTAssertEqual(config.effectiveMaxSessionTimeoutMs, 20 * 2_147_483_647)
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
