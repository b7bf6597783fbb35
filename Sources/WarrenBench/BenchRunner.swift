import Foundation
import WarrenJute

/// Runs a bench: setup, warm-up, measurement, cleanup. The entry point for `warren bench` and tests.
public enum BenchRunner {
    /// Runs `config` to completion and returns what was measured. `log` receives progress lines (for a terminal);
    /// they are not part of the result.
    ///
    /// Every phase is bounded: requests stop at the deadline; replies still missing `drainSeconds` later are given
    /// up. Lost connections are counted in the result, not thrown.
    /// - Throws: `BenchError.badArgument` for an invalid config, `.connect` if no session can be opened,
    ///   `.setupFailed` if the tree or keys cannot be created, `.allConnectionsLost` if every workload connection
    ///   died during the run.
    public static func run(_ config: BenchConfig, log: (String) -> Void = { _ in }) throws -> BenchResult {
        try config.validate()
        let withKeys = [.read, .write, .mixed].contains(config.workload)

        let setupStart = Clock.nowNs()
        try withSessions(min(config.connections, 4), config) { conns in
            log("setup: creating \(config.root)\(withKeys ? " and \(config.keys) keys of \(config.valueBytes) bytes" : "")")
            try Phases.setup(config, on: conns, withKeys: withKeys)
        }
        let setupSeconds = seconds(since: setupStart)

        var measured = Measured()
        var runError: Error?
        if config.durationSeconds > 0 {
            log("run: \(config.workload.rawValue) for \(config.warmupSeconds) s warm-up + \(config.durationSeconds) s")
            do {
                measured = config.workload == .sessionChurn ? try runSessionChurn(config) : try runEngines(config)
            } catch {
                runError = error
            }
        }

        let cleanupStart = Clock.nowNs()
        var notes = measured.notes
        if config.cleanup {
            log("cleanup: removing \(config.root)")
            do {
                try withSessions(min(config.connections, 4), config) { conns in
                    notes += Phases.cleanup(config, on: conns, withKeys: withKeys, created: measured.created)
                }
            } catch {
                notes.append("cleanup skipped: \(error)")
            }
        }
        if let runError { throw runError }

        let window = config.durationSeconds
        let stats = measured.stats
        var errors: [String: UInt64] = [:]
        for (code, n) in stats.errors { errors[ErrorCode.name(code), default: 0] += n }
        return BenchResult(
            workload: config.workload, hosts: config.hosts.map(\.description), connections: config.connections,
            outstanding: config.outstanding, valueBytes: config.valueBytes, keys: config.keys,
            readPercent: config.workload == .mixed ? config.readPercent : nil,
            watchers: config.workload == .watchFanout ? config.watchers : nil, threads: measured.threads,
            targetRatePerSecond: config.ratePerSecond > 0 ? config.ratePerSecond : nil,
            dropped: config.ratePerSecond > 0 ? stats.dropped : nil, warmupSeconds: config.warmupSeconds, durationSeconds: window, ops: stats.ops,
            opsPerSecond: window > 0 ? Double(stats.ops) / window : 0, latencyMicros: LatencySummary(stats.histogram),
            errors: errors, errorsTotal: stats.errors.values.reduce(0, +), connectionErrors: stats.connectionErrors,
            connectionErrorSamples: stats.connectionErrorSamples, rounds: measured.rounds, generatorCPU: measured.cpu,
            generatorCPUPercent: window > 0 ? measured.cpu.totalSeconds / window * 100 : 0,
            setupSeconds: setupSeconds, cleanupSeconds: seconds(since: cleanupStart), notes: notes)
    }

    /// What the measured phase produced, before it is turned into a `BenchResult`.
    private struct Measured {
        var stats = RunStats()
        var cpu = CPUTime(userSeconds: 0, systemSeconds: 0)
        var threads = 0
        var rounds: Int?
        var created: [String] = []
        var notes: [String] = []
    }

    private static func seconds(since startNs: UInt64) -> Double { Double(Clock.nowNs() - startNs) / 1e9 }

    /// Opens `count` sessions, runs `body`, and closes them whatever happens.
    private static func withSessions(
        _ count: Int, _ config: BenchConfig, _ body: ([BenchConnection]) throws -> Void
    ) throws {
        let (conns, errors) = Phases.open(count, config)
        defer { Engine.closeSessions(conns) }
        guard !conns.isEmpty else { throw BenchError.connect(errors.first ?? "no host") }
        try body(conns)
    }

    private static func window(_ config: BenchConfig) -> Window {
        let start = Clock.nowNs() + Clock.ns(seconds: config.warmupSeconds)
        let stop = start + Clock.ns(seconds: config.durationSeconds)
        return Window(measureStartNs: start, stopNs: stop, giveUpNs: stop + Clock.ns(seconds: config.drainSeconds))
    }

    /// A closure run on a thread of its own. Safe to send although it captures engines and a results array: each
    /// is handed to exactly one thread, built before that thread starts, and the caller reads what it touched only
    /// after `done.wait()` has seen every thread finish.
    private struct ThreadBody: @unchecked Sendable { let run: () -> Void }

    /// Runs `bodies` on their own threads, samples this process's CPU time over the window's measured part, and
    /// returns once every body has returned.
    private static func runThreads(_ window: Window, _ bodies: [() -> Void]) -> CPUTime {
        let done = DispatchSemaphore(value: 0)
        for body in bodies.map(ThreadBody.init) {
            let thread = Thread {
                body.run()
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        sleep(until: window.measureStartNs)
        let before = CPUTime.now()
        sleep(until: window.stopNs)
        let cpu = CPUTime.now() - before
        for _ in bodies { done.wait() }
        return cpu
    }

    private static func sleep(until ns: UInt64) {
        while true {
            let now = Clock.nowNs()
            if now >= ns { return }
            Thread.sleep(forTimeInterval: Double(ns - now) / 1e9)
        }
    }

    private static func runEngines(_ config: BenchConfig) throws -> Measured {
        let fanout = config.workload == .watchFanout
        let sessions = fanout ? config.watchers + 1 : config.connections
        let (conns, openErrors) = Phases.open(sessions, config)
        defer { Engine.closeSessions(conns) }
        guard !conns.isEmpty else { throw BenchError.connect(openErrors.first ?? "no host") }
        if fanout && conns.count < 2 { throw BenchError.connect("watch-fanout needs a writer and a watcher: \(openErrors)") }

        let threads = fanout ? 1 : min(config.threads, conns.count)
        let keySpace = [.read, .write, .mixed].contains(config.workload) ? KeySpace(config) : nil
        let value = BenchValue.bytes(config.valueBytes, seed: 0)
        let w = window(config)
        var engines: [Engine] = []
        var drivers: [LoadDriver] = []
        for t in 0..<threads {
            let mine = conns.enumerated().filter { $0.offset % threads == t }.map(\.element)
            engines.append(Engine(connections: mine, window: w))
            switch config.workload {
            case .read, .write, .mixed:
                let readPercent = config.workload == .read ? 100 : config.workload == .write ? 0 : config.readPercent
                drivers.append(
                    KeyedDriver(
                        keys: keySpace!, readPercent: readPercent, outstanding: config.outstanding,
                        seed: config.seed &+ UInt64(t) &* 0x9E37_79B9, ratePerSecond: config.ratePerSecond / Double(threads)))
            case .createSeq:
                drivers.append(CreateSequentialDriver(parent: config.seqDir, value: value, outstanding: config.outstanding))
            case .churn:
                drivers.append(ChurnDriver(parent: config.churnDir, value: value, outstanding: config.outstanding))
            case .watchFanout:
                drivers.append(FanoutDriver(path: config.fanoutPath, value: value))
            case .sessionChurn:
                preconditionFailure("session-churn does not run on engines")
            }
        }
        let bodies: [() -> Void] = zip(engines, drivers).map { pair in { pair.0.run(pair.1) } }
        var m = Measured()
        m.cpu = runThreads(w, bodies)
        m.threads = threads
        m.stats.connectionErrors = openErrors.count
        m.stats.connectionErrorSamples = Array(openErrors.prefix(5))
        for e in engines { m.stats.merge(e.stats) }
        for d in drivers {
            if let d = d as? CreateSequentialDriver { m.created += d.created }
            if let d = d as? ChurnDriver { m.created += d.leftovers }
            if let d = d as? FanoutDriver {
                m.rounds = d.rounds
                if d.strayEvents > 0 { m.notes.append("\(d.strayEvents) unexpected watch events") }
            }
        }
        if conns.allSatisfy({ !$0.isOpen }) {
            throw BenchError.allConnectionsLost(m.stats.connectionErrorSamples.first ?? "unknown cause")
        }
        return m
    }

    private static func runSessionChurn(_ config: BenchConfig) throws -> Measured {
        let w = window(config)
        var results = [RunStats](repeating: RunStats(), count: config.connections)
        let lock = NSLock()
        let bodies: [() -> Void] = (0..<config.connections).map { i in
            {
                let s = SessionChurn.loop(
                    target: config.hosts[i % config.hosts.count], sessionTimeoutMs: config.sessionTimeoutMs, window: w)
                lock.lock()
                results[i] = s
                lock.unlock()
            }
        }
        var m = Measured()
        m.cpu = runThreads(w, bodies)
        m.threads = config.connections
        for r in results { m.stats.merge(r) }
        if m.stats.ops == 0 && m.stats.connectionErrors > 0 {
            throw BenchError.allConnectionsLost(m.stats.connectionErrorSamples.first ?? "unknown cause")
        }
        return m
    }
}
