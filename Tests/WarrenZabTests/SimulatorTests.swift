import Foundation
import XCTest
import WarrenZab

/// Randomized whole-ensemble runs. See README.md in this directory for seeds and replay.
final class SimulatorTests: XCTestCase {
    /// The CI set: seeds 1...200, or 1...N with `ZAB_SEEDS=N`.
    func testSeeds() {
        let count = ProcessInfo.processInfo.environment["ZAB_SEEDS"].flatMap { UInt64($0) } ?? 200
        var failures: [String] = []
        var coverage = Simulator.Coverage()
        for seed in 1...count {
            // Printed first so that a trapped precondition still names its seed.
            FileHandle.standardError.write("zab sim seed \(seed)\n".data(using: .utf8)!)
            if let failure = ChaosRun.run(seed: seed, coverage: &coverage) {
                failures.append(failure)
                if failures.count >= 3 { break }
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
        print("zab sim coverage over \(count) seeds: \(coverage)")
        // The seed set must actually reach every sync mode and the fault paths.
        for path in ["diff", "trunc", "snap", "zxidExhausted", "inform", "crashWithUnsynced", "pause", "sync"] {
            XCTAssertGreaterThan(coverage[path], 0, "no seed exercised \(path): \(coverage)")
        }
    }

    /// Membership changes under the same chaos: seeds 1...60, or 1...N with `ZAB_RECONFIG_SEEDS=N`.
    func testReconfigSeeds() {
        let count = ProcessInfo.processInfo.environment["ZAB_RECONFIG_SEEDS"].flatMap { UInt64($0) } ?? 60
        var failures: [String] = []
        var coverage = Simulator.Coverage()
        for seed in 1...count {
            FileHandle.standardError.write("zab sim reconfig seed \(seed)\n".data(using: .utf8)!)
            if let failure = ChaosRun.run(seed: seed, reconfig: true, coverage: &coverage) {
                failures.append(failure)
                if failures.count >= 3 { break }
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
        print("zab sim reconfig coverage over \(count) seeds: \(coverage)")
        for path in ["reconfig", "snap", "leader"] {
            XCTAssertGreaterThan(coverage[path], 0, "no seed exercised \(path): \(coverage)")
        }
    }

    /// Replays one seed (`ZAB_RECONFIG=1` for a reconfig seed): `ZAB_SEED=<seed> swift test --filter testReplaySeed` (seed 42 when unset).
    func testReplaySeed() {
        let seed = ProcessInfo.processInfo.environment["ZAB_SEED"].flatMap { UInt64($0) } ?? 42
        let failure = ChaosRun.run(seed: seed, reconfig: ProcessInfo.processInfo.environment["ZAB_RECONFIG"] == "1")
        XCTAssertNil(failure, failure ?? "")
    }

    /// The same seed gives the same run: the history and every server's state match exactly.
    func testRunsAreDeterministic() {
        func fingerprint(_ seed: UInt64) -> [String] {
            let sim = Simulator(members: [1: .participant, 2: .participant, 3: .participant], seed: seed)
            for i in 0..<60 {
                if i % 3 == 0 { sim.write(via: ServerId(i % 3 + 1)) }
                if i == 30 { sim.crash(2) }
                if i == 40 { sim.restart(2) }
                sim.run(ticks: 1)
            }
            return sim.checker.history.map { "\($0.zxid)" } + [sim.stateDump]
        }
        XCTAssertEqual(fingerprint(7), fingerprint(7))
        XCTAssertFalse(fingerprint(7).count <= 1, "the run committed nothing")
    }
}
