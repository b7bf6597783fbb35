#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WarrenClient
import WarrenJute

/// The mount's file-lock state.
public final class FileLocks: @unchecked Sendable {
    public let table = LockTable()
    let lockOnly = LockOnlyCache()
    /// Written into each contender node, so that `user.zk.lock.holder` (and other recipes' tools) tell who holds it.
    let hostname: String = ProcessInfo.processInfo.hostName
    /// Acquisitions a FUSE interrupt may cancel, by ticket id (the interrupt callback gets only a number).
    private let lock = NSLock()
    private var waiting: [UInt64: LockTicket] = [:]

    public init() {}

    func register(_ ticket: LockTicket) { lock.withLock { waiting[ticket.id] = ticket } }
    func unregister(_ ticket: LockTicket) { _ = lock.withLock { waiting.removeValue(forKey: ticket.id) } }
    func waitingTicket(_ id: UInt64) -> LockTicket? { lock.withLock { waiting[id] } }
}

/// A condition fired at most once: by a watch event, a cancellation or a timeout, whichever comes first.
final class Wakeup: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var continuation: CheckedContinuation<Void, Never>?

    func fire() {
        let c = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            fired = true
            defer { continuation = nil }
            return continuation
        }
        c?.resume()
    }

    func wait(timeoutMs: UInt64) async {
        let timer = Task { [self] in
            try? await Task.sleep(nanoseconds: timeoutMs * 1_000_000)
            fire()
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = lock.withLock { () -> Bool in
                if fired { return true }
                continuation = c
                return false
            }
            if now { c.resume() }
        }
        timer.cancel()
    }
}

/// Cluster-wide locks behind flock(2) and fcntl/lockf record locks: each contender is an ephemeral sequential
/// child of the locked file's znode, named as Apache Curator names its own (`_c_<uuid>-lock-<seq>`, or
/// `__READ__`/`__WRIT__` for the read/write lock), and waits for its predecessor only (see `LockQueue`).
extension ZKFilesystem {
    /// A waiting contender lists the children again after this long even without a watch event, so a lost event
    /// (a reconnect in between) delays it, never strands it.
    static let lockRecheckMs: UInt64 = 10_000
    /// How many times one acquisition may create its node again (its node vanished with an expired session, or
    /// it had to switch to the read/write naming).
    static let lockRecreatesMax = 8
    /// Lines of `user.zk.lock.waiters` at most.
    static let lockWaiterLinesMax = 64

    /// Takes the lock `ticket` stands for (see `LockTable.begin`) on `key.path`, waiting for it if `wait`; the
    /// lock is then recorded as held through `fh`. `replacing` (the owner's lock in the other mode) is released
    /// first: conversions are not atomic, as flock(2) allows.
    /// - Throws: `EWOULDBLOCK` if it is held and `wait` is false, `EINTR` if the ticket was cancelled (interrupt,
    ///   unlock, close), `ENOLCK` if the node kept vanishing, errors of the requests.
    public func lock(_ key: LockOwnerKey, ticket: LockTicket, replacing: HeldLock?, wait: Bool, fh: UInt64,
                     pid: Int32) async throws {
        if let replacing { await releaseHeld(replacing) }
        do {
            if pendingCreates.entry(key.path) != nil { try await createPendingForLock(key.path, fh: fh, ticket: ticket) }
            let (node, session) = try await acquire(path: key.path, mode: ticket.mode, wait: wait, ticket: ticket,
                                                    pid: pid)
            let held = HeldLock(node: node, mode: ticket.mode, fh: fh, pid: pid, session: session)
            guard fileLocks.table.grant(key, ticket: ticket, held) else {
                await deleteContender(node)
                throw FSError(EINTR, "\(key.path): cancelled")
            }
            logger.debug("zkfs: pid \(pid) holds \(node) (\(ticket.mode))")
        } catch {
            fileLocks.table.abandon(key, ticket: ticket)
            throw error
        }
    }

    /// How long a lock on a file another open of this mount is creating waits for that create (its writer's
    /// close) before creating the node itself, with what the writer has written so far.
    static let lockPendingCreateWaitMs: UInt64 = 2_000

    /// The file to lock is pending (created through this mount, no znode yet for the contenders to go under).
    /// If the locking handle is the one creating it (flock(1) opens what it locks with O_CREAT), the node is
    /// created now, as an fsync would. If another open is creating it (`printf data > f` racing `flock f`), the
    /// lock waits for that writer's create: creating the node early would publish it empty, and a mount that sees
    /// an empty childless node shows a directory, on which locks are local to one machine.
    private func createPendingForLock(_ path: String, fh: UInt64, ticket: LockTicket) async throws {
        if files.get(fh)?.pendingCreate?.inodePath != path {
            let deadline = DispatchTime.now().uptimeNanoseconds + Self.lockPendingCreateWaitMs * 1_000_000
            while pendingCreates.entry(path) != nil && DispatchTime.now().uptimeNanoseconds < deadline {
                if ticket.isCancelled { throw FSError(EINTR, "\(path): cancelled") }
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
            guard pendingCreates.entry(path) != nil else { return }
        }
        try await createPendingNow(path)
    }

    /// Releases the owner's lock (or cancels its wait).
    public func unlock(_ key: LockOwnerKey) async {
        if let held = fileLocks.table.remove(key) { await releaseHeld(held) }
    }

    /// The last close of handle `fh`: its locks go, and acquisitions through it stop waiting.
    public func releaseLocks(fh: UInt64) async {
        for held in fileLocks.table.removeAll(fh: fh) { await releaseHeld(held) }
    }

    /// A close by the POSIX lock owner `owner`: its record locks on the node of `ino` go.
    public func releasePosixLocks(owner: UInt64, ino: UInt64) async {
        guard let path = inodes.key(of: ino)?.path else { return }
        for held in fileLocks.table.removePosix(owner: owner, path: path) { await releaseHeld(held) }
    }

    /// After a new session replaced an expired one: the old session's contender nodes are gone, so its locks
    /// are lost, maybe to another holder already. They are forgotten, so the holder's later unlock deletes
    /// nothing (and could not hit another's node anyway: our node names carry a fresh uuid).
    func locksLostToExpiry() {
        for held in fileLocks.table.removeLost(currentSession: connection.sessionId) {
            logger.critical("zkfs: LOCK LOST: \(held.node) (\(held.mode), pid \(held.pid)) went with the expired session 0x\(String(UInt64(bitPattern: held.session), radix: 16)); another contender may hold it now")
        }
    }

    /// The holder a lock of `mode` by `key`'s owner would conflict with (F_GETLK), with its pid if it is one of
    /// this mount's (0 for any other client: ZooKeeper knows no pids); nil if the lock could be taken now.
    public func testLock(_ key: LockOwnerKey, mode: LockMode) async throws -> (LockContender, pid: Int32)? {
        let children = try await lockChildren(key.path)
        let own = fileLocks.table.heldLock(key).map { Set([ZPath.name(of: $0.node)]) } ?? []
        guard let holder = LockQueue.conflict(for: mode, children: children, ownNodes: own) else { return nil }
        return (holder, fileLocks.table.held(on: key.path)[holder.name]?.pid ?? 0)
    }

    /// `user.zk.lock.holder` and `user.zk.lock.waiters`: one line per contender, `<node name> <node data>`;
    /// nil for other names. `ENODATA` when nobody holds the lock.
    func lockXattr(path: String, name: String) async throws -> [UInt8]? {
        guard name == LockXattr.holder || name == LockXattr.waiters else { return nil }
        let children = try await lockChildren(path)
        let holders = LockQueue.holders(children)
        guard !holders.isEmpty else { throw FSError(ENODATA, "\(path) is not locked") }
        let holderNames = Set(holders.map(\.name))
        let listed = name == LockXattr.holder
            ? holders
            : Array(LockQueue.sorted(children).filter { !holderNames.contains($0.name) }.prefix(Self.lockWaiterLinesMax))
        var lines: [String] = []
        for contender in listed {
            let data = try? await connection.run { try await $0.getData(ZPath.join(path, contender.name)).data }
            lines.append("\(contender.name) \(String(decoding: (data ?? nil) ?? [], as: UTF8.self))\n")
        }
        return Array(lines.joined().utf8)
    }

    // MARK: - ZooKeeper

    /// Creates our contender and waits until `LockQueue` grants it; returns its path and session. Whatever
    /// fails, a node of ours is not left behind (found by its uuid if a create reply was lost).
    private func acquire(path: String, mode: LockMode, wait: Bool, ticket: LockTicket, pid: Int32)
        async throws -> (String, Int64)
    {
        let id = UUID()
        let data = Array("\(fileLocks.hostname) pid \(pid) (zkfs)".utf8)
        var children = try await lockChildren(path)
        // A busy lock fails a non-blocking request without a write.
        if !wait, LockQueue.conflict(for: mode, children: children, ownNodes: []) != nil {
            throw FSError(EWOULDBLOCK, "\(path) is held")
        }
        var family = LockQueue.family(for: mode, among: children)
        var recreates = 0
        if ticket.isCancelled { throw FSError(EINTR, "\(path): cancelled") }
        do {
            var node = try await createContender(path, LockQueue.nodePrefix(id: id, mode: mode, family: family), data)
            while true {
                if ticket.isCancelled { throw FSError(EINTR, "\(path): cancelled") }
                let session = connection.sessionId
                children = try await lockChildren(path)
                let decision = LockQueue.decide(ours: ZPath.name(of: node), children: children)
                switch decision {
                case .granted:
                    return (node, session)
                case let .wait(predecessor):
                    guard wait else { throw FSError(EWOULDBLOCK, "\(path) is held") }
                    await waitForDeletion(ZPath.join(path, predecessor), ticket: ticket)
                case .absent, .relayout:
                    recreates += 1
                    guard recreates <= Self.lockRecreatesMax else {
                        throw FSError(ENOLCK, "\(path): contender node recreated \(Self.lockRecreatesMax) times")
                    }
                    if case let .relayout(f) = decision { family = f }
                    await deleteContender(node)
                    node = try await createContender(path, LockQueue.nodePrefix(id: id, mode: mode, family: family), data)
                }
            }
        } catch {
            await removeContenders(path, id: id)
            throw error
        }
    }

    private func lockChildren(_ path: String) async throws -> [String] {
        try await mapErrors { try await self.connection.run { try await $0.getChildren(path) } }
    }

    private func createContender(_ path: String, _ prefix: String, _ data: [UInt8]) async throws -> String {
        let full = ZPath.join(path, prefix)
        return try await mapErrors {
            try await self.connection.run(idempotent: false) {
                try await $0.create(full, data: data, mode: .ephemeralSequential)
            }
        }
    }

    /// Waits until `node` is deleted (or changes), the ticket is cancelled, or `lockRecheckMs` pass.
    private func waitForDeletion(_ node: String, ticket: LockTicket) async {
        let client = connection.current
        let wake = Wakeup()
        // Subscribed before the watch is set, so the event cannot slip between; the stream also ends when the
        // client stops (its session expired), which wakes us too.
        let events = client.watchEvents(path: node)
        let listener = Task {
            for await _ in events { break }
            wake.fire()
        }
        defer { listener.cancel() }
        guard ticket.onCancel({ wake.fire() }) else { return }
        guard (try? await client.exists(node, watch: true)) != nil else { return }
        await wake.wait(timeoutMs: Self.lockRecheckMs)
    }

    private func releaseHeld(_ held: HeldLock) async {
        guard held.session == connection.sessionId else {
            logger.critical("zkfs: unlock of \(held.node) after its session expired: the lock was already lost; nothing deleted")
            return
        }
        await deleteContender(held.node)
        logger.debug("zkfs: released \(held.node)")
    }

    /// Deletes a contender node of ours; one already gone is fine.
    private func deleteContender(_ node: String) async {
        do {
            try await connection.run { try await $0.delete(node) }
        } catch let error as ZooKeeperError where error.code == .noNode {
        } catch {
            logger.error("zkfs: could not delete lock node \(node): \(error); it goes with the session")
        }
    }

    /// Deletes every child of `path` carrying our uuid (a create whose reply was lost still left one).
    private func removeContenders(_ path: String, id: UUID) async {
        let mark = id.uuidString.lowercased()
        guard let children = try? await lockChildren(path) else { return }
        for child in children where child.contains(mark) { await deleteContender(ZPath.join(path, child)) }
    }
}

/// The lock attributes (read by name; not listed).
public enum LockXattr {
    public static let holder = "user.zk.lock.holder"
    public static let waiters = "user.zk.lock.waiters"
}
