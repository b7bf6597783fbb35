import XCTest

final class PlaceholderWarrenStorageTests: XCTestCase {
    func testBuilds() {}
}
