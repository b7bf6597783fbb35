import XCTest
@testable import WarrenZab

final class ZxidTests: XCTestCase {
    func testEpochAndCounterSplit() {
        let z = Zxid(epoch: 3, counter: 5)
        XCTAssertEqual(z.raw, 0x3_0000_0005)
        XCTAssertEqual(z.epoch, 3)
        XCTAssertEqual(z.counter, 5)
        XCTAssertLessThan(Zxid(epoch: 2, counter: Zxid.counterMax), Zxid(epoch: 3, counter: 0))
    }
}
