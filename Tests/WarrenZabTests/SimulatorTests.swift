import Foundation
import XCTest
import WarrenZab

/// Randomized whole-ensemble runs. See README.md in this directory for seeds and replay.
final class SimulatorTests: XCTestCase {
    /// The CI set: seeds 1...200, or 1...N with `ZAB_SEEDS=N`.
    func testSeeds() {
        // The seed set must actually reach every sync mode and the fault paths.
        runSeeds(variable: "ZAB_SEEDS", default: 200, reconfig: false,
                 mustReach: ["diff", "trunc", "snap", "zxidExhausted", "inform", "crashWithUnsynced", "pause", "sync"])
    }

    /// Membership changes under the same chaos: seeds 1...60, or 1...N with `ZAB_RECONFIG_SEEDS=N`.
    func testReconfigSeeds() {
        runSeeds(variable: "ZAB_RECONFIG_SEEDS", default: 60, reconfig: true, mustReach: ["reconfig", "snap", "leader"])
    }

    /// Runs seeds 1...N (N from the environment `variable`), stopping after three failures, and checks that the
    /// set exercised every path in `mustReach`.
    private func runSeeds(variable: String, default count: UInt64, reconfig: Bool, mustReach: [String]) {
        let count = ProcessInfo.processInfo.environment[variable].flatMap { UInt64($0) } ?? count
        let kind = reconfig ? "zab sim reconfig" : "zab sim"
        var failures: [String] = []
        var coverage = Simulator.Coverage()
        for seed in 1...count {
            // Printed first so that a trapped precondition still names its seed.
            FileHandle.standardError.write("\(kind) seed \(seed)\n".data(using: .utf8)!)
            if let failure = ChaosRun.run(seed: seed, reconfig: reconfig, coverage: &coverage) {
                failures.append(failure)
                if failures.count >= 3 { break }
            }
        }
        XCTAssert(failures.isEmpty, failures.joined(separator: "\n\n"))
        print("\(kind) coverage over \(count) seeds: \(coverage)")
        for path in mustReach {
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
