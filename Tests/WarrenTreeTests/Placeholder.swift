import XCTest

final class PlaceholderWarrenTreeTests: XCTestCase {
    func testBuilds() {}
}
