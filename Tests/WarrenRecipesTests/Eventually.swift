import Foundation
import WarrenRecipes
import XCTest

/// Polls `condition` until it holds or `seconds` pass (a bound for a test that would otherwise hang, not a
/// measurement).
func eventually(within seconds: Double = 20, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now.advanced(by: .milliseconds(Int(seconds * 1000)))
    while try await !condition() {
        if ContinuousClock.now >= deadline { throw RecipeServerError("timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// The next element of `stream`, or nil if none comes within `seconds`.
func first<T: Sendable>(of stream: AsyncStream<T>, within seconds: Double = 20) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            for await value in stream { return value }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        let value = await group.next() ?? nil
        group.cancelAll()
        return value
    }
}

// XCTest's assertions take plain autoclosures; these take async ones, so that a test can assert on an awaited value
// in one line.

func assertTrue(_ value: @autoclosure () async throws -> Bool, _ message: String = "", file: StaticString = #filePath,
                line: UInt = #line) async throws {
    let v = try await value()
    XCTAssertTrue(v, message, file: file, line: line)
}

func assertFalse(_ value: @autoclosure () async throws -> Bool, _ message: String = "", file: StaticString = #filePath,
                 line: UInt = #line) async throws {
    let v = try await value()
    XCTAssertFalse(v, message, file: file, line: line)
}

func assertEqual<T: Equatable>(_ value: @autoclosure () async throws -> T, _ expected: T, _ message: String = "",
                               file: StaticString = #filePath, line: UInt = #line) async throws {
    let v = try await value()
    XCTAssertEqual(v, expected, message, file: file, line: line)
}

/// Asserts that the next element of `stream` (within a bound) is `expected`.
func assertNext<T: Equatable & Sendable>(_ stream: AsyncStream<T>, _ expected: T, _ message: String = "",
                                         file: StaticString = #filePath, line: UInt = #line) async {
    let value = await first(of: stream)
    XCTAssertEqual(value, expected, message, file: file, line: line)
}

/// Asserts that `body` throws `RecipeError` `expected`.
func assertRecipeError(_ expected: RecipeError, _ message: String, file: StaticString = #filePath, line: UInt = #line,
                       _ body: () async throws -> Void) async {
    do {
        try await body()
        XCTFail("succeeded: \(message)", file: file, line: line)
    } catch let error as RecipeError {
        XCTAssertEqual(error, expected, message, file: file, line: line)
    } catch {
        XCTFail("\(error): \(message)", file: file, line: line)
    }
}
