import WarrenJute

/// Restores a tree from snapshot bytes that arrive in pieces — a SNAP sync's chunks — taking each node as soon as
/// its bytes are there, so that the restore ends about when the last byte arrives instead of starting then (at 10M
/// znodes that is seconds of a follower's rejoin).
///
/// Only version 2 can be taken this way: its records carry their data inline, in the order restore needs them.
/// Version 3 puts every value after all records and version 1 is the old layout; for those `finish` returns nil
/// and the caller restores the whole bytes with `DataTree.restore(from:)` as before.
///
/// Errors: while bytes are still due, a record that does not parse may just be incomplete, so it is parsed again
/// when more arrive; an error that cannot come from missing bytes (an inconsistent tree) is kept and thrown by
/// `finish`, and nothing more is parsed. With every byte in, `finish` throws whatever `restore(from:)` would.
/// Not thread-safe: feed and finish from one thread (or one serial queue) at a time.
public final class IncrementalRestore {
    private enum Phase {
        case header
        case nodes(SnapshotV2Loader, tree: DataTree, remaining: Int)
        case complete(DataTree)
        /// Not version 2: only counted, never parsed.
        case unsupported
        case failed(SnapshotError)
    }

    public let totalBytes: Int
    private let config: TreeConfig
    private var phase = Phase.header
    /// Received bytes not yet consumed: the start of a record that did not fit in what had arrived.
    private var pending: [UInt8] = []
    public private(set) var receivedBytes = 0

    public init(totalBytes: Int, config: TreeConfig = TreeConfig()) {
        precondition(totalBytes >= 0, "snapshot of \(totalBytes) bytes")
        self.totalBytes = totalBytes
        self.config = config
    }

    /// True once the header showed a layout this type cannot take piecewise.
    public var isUnsupported: Bool {
        if case .unsupported = phase { return true }
        return false
    }

    /// The next bytes of the snapshot, in order. More than `totalBytes` in all is a failure reported by `finish`.
    public func feed(_ piece: UnsafeRawBufferPointer) {
        receivedBytes += piece.count
        switch phase {
        case .unsupported, .failed: return
        case .complete:
            phase = .failed(.inconsistent("bytes after the last node"))
            return
        case .header, .nodes: break
        }
        guard receivedBytes <= totalBytes else {
            phase = .failed(.inconsistent("more than the announced \(totalBytes) bytes"))
            return
        }
        pending.append(contentsOf: piece)
        parse()
    }

    /// Call after the last byte: the restored tree, or nil when the layout is not version 2 (restore the whole
    /// bytes instead).
    public func finish() throws(SnapshotError) -> DataTree? {
        switch phase {
        case .unsupported: return nil
        case let .failed(error): throw error
        default: break
        }
        guard receivedBytes == totalBytes else {
            throw .malformed(.truncated(needed: totalBytes - receivedBytes, available: 0))
        }
        switch phase {
        case .unsupported: return nil
        case let .failed(error): throw error
        case let .complete(tree): return tree
        case .header, .nodes:
            parse()  // everything is in: an error now is final
            if case let .complete(tree) = phase { return tree }
            if case let .failed(error) = phase { throw error }
            preconditionFailure("restore of \(totalBytes) bytes neither complete nor failed after the last byte")
        }
    }

    private var allReceived: Bool { receivedBytes == totalBytes }

    private func parse() {
        if case .header = phase {
            var r = JuteReader(pending)
            do {
                let header = try DataTree.readHeader(&r, config: config)
                guard header.version == DataTree.snapshotVersionInline else {
                    phase = .unsupported
                    pending = []
                    return
                }
                let loader = SnapshotV2Loader(tree: header.tree, aclLists: header.aclLists, nodeCount: header.nodeCount)
                phase = .nodes(loader, tree: header.tree, remaining: header.nodeCount)
                pending.removeFirst(r.offset)
            } catch {
                // The header's counts are checked against the bytes present, so any error may be missing bytes.
                if !allReceived { return }
                phase = .failed(Self.snapshotError(error))
                return
            }
        }
        guard case .nodes(var loader, let tree, var remaining) = phase else { return }
        phase = .header  // not used while the loader is out of `phase` (avoids copying its buffers on write)
        var consumed = 0
        var failure: SnapshotError?
        pending.withUnsafeBytes { raw in
            var c = SnapshotCursor(raw, offset: 0, end: raw.count)
            while remaining > 0 {
                do {
                    try loader.loadNode(&c)
                    remaining -= 1
                    consumed = c.offset
                } catch let e as JuteError where !allReceived && Self.mayBeIncomplete(e) {
                    return  // parsed again from `consumed` when more bytes are in
                } catch {
                    failure = Self.snapshotError(error)
                    return
                }
            }
        }
        pending.removeFirst(consumed)
        if let failure {
            phase = .failed(failure)
            pending = []
            return
        }
        guard remaining == 0 else {
            phase = .nodes(loader, tree: tree, remaining: remaining)
            return
        }
        do {
            try loader.finish()
        } catch {
            phase = .failed(Self.snapshotError(error))
            return
        }
        if !pending.isEmpty || !allReceived {
            phase = .failed(.inconsistent("\(pending.count + totalBytes - receivedBytes) bytes after the last node"))
            return
        }
        tree.rebuildQuotaPaths()
        phase = .complete(tree)
    }

    /// Errors a record cut short by the end of the bytes received so far can produce: running out, or a length
    /// larger than what is left (lengths are bounded by the bytes present).
    private static func mayBeIncomplete(_ e: JuteError) -> Bool {
        switch e {
        case .truncated, .badLength: return true
        default: return false
        }
    }

    private static func snapshotError(_ error: Error) -> SnapshotError {
        switch error {
        case let e as SnapshotError: return e
        case let e as JuteError: return .malformed(e)
        default: return .inconsistent("\(error)")
        }
    }
}
