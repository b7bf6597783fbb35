import XCTest

final class PlaceholderWarrenJuteTests: XCTestCase {
    func testBuilds() {}
}
