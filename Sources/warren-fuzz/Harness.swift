/// The fuzz targets' shared machinery: the target table, the invariant check, and corpus replay.
///
/// A target is a function of one input that must return for every input: decoders throw typed errors for bad
/// bytes, never trap. Beyond that a target checks invariants with `expect`; under libFuzzer a broken invariant
/// traps (so the fuzzer saves the input), in replay it is counted and the replay goes on with the next input.

import Foundation

struct FuzzTarget: Sendable {
    let name: String
    /// What the input is, for `warren-fuzz list`.
    let summary: String
    let run: @Sendable ([UInt8]) -> Void
}

enum Fuzz {
    /// Every target, in the order `run.sh` fuzzes them.
    static var targets: [FuzzTarget] {
        var all = clientTargets + textTargets
        #if DEBUG || WARREN_FUZZING
        // These reach internal types through `@testable import`, which needs modules built with testing enabled:
        // the debug build, or the fuzzer build (run.sh passes -enable-testing). A plain release build leaves them out.
        all += quorumTargets + storageTargets
        #endif
        return all
    }

    static func target(named name: String) -> FuzzTarget? { targets.first { $0.name == name } }

    // The fuzzer and the replay run every input on one thread, one after the other; nothing else touches these.
    /// True while replaying a corpus: broken invariants are counted instead of trapping.
    nonisolated(unsafe) static var replaying = false
    /// Invariants broken by the current input (replay only).
    nonisolated(unsafe) static var violations: [String] = []
}

/// Checks an invariant of the target under test. `what` describes the violation.
func expect(_ condition: @autoclosure () -> Bool, _ what: @autoclosure () -> String) {
    guard !condition() else { return }
    if Fuzz.replaying {
        Fuzz.violations.append(what())
    } else {
        fatalError("invariant broken: \(what())")
    }
}

/// Checks that a decoded value survives encoding: `decode(encode(value)) == value`. A throw on the re-encoded
/// bytes is a violation too: whatever the encoder writes, the decoder must take back.
func expectRoundTrip<T: Equatable>(_ value: T, _ label: String, encode: (T) -> [UInt8], decode: ([UInt8]) throws -> T) {
    let bytes = encode(value)
    do {
        let again = try decode(bytes)
        expect(again == value, "\(label): decode(encode(x)) != x\n  x:     \(value)\n  again: \(again)")
    } catch {
        expect(false, "\(label): re-encoded value does not decode: \(error)\n  x: \(value)")
    }
}

/// Replays every file under `paths` (files or directories, not recursive) through `target`. A trap in a target
/// ends the process, which `run.sh` reports as a failure of the whole target.
/// - Returns: the number of inputs that passed and that broke an invariant.
func replay(_ target: FuzzTarget, paths: [String]) -> (passed: Int, failed: Int) {
    Fuzz.replaying = true
    var files: [String] = []
    for path in paths {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files += names.sorted().filter { !$0.hasPrefix(".") }.map { (path as NSString).appendingPathComponent($0) }
        } else {
            files.append(path)
        }
    }
    var passed = 0
    var failed = 0
    for file in files {
        guard let data = FileManager.default.contents(atPath: file) else { continue }
        Fuzz.violations = []
        target.run([UInt8](data))
        if Fuzz.violations.isEmpty {
            passed += 1
        } else {
            failed += 1
            print("FAIL \(target.name) \(file):")
            for v in Fuzz.violations { print("  \(v)") }
        }
    }
    return (passed, failed)
}

/// The target libFuzzer drives; set once before the driver starts.
nonisolated(unsafe) var selectedTarget: FuzzTarget?

/// libFuzzer's entry point (also what the replay path amounts to): one input, run through the selected target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget!.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
