import Dispatch
import WarrenStorage
import WarrenTree

/// A SNAP sync's state put to use while it arrives (learner side). Each chunk, as it lands, goes to a restore
/// (`IncrementalRestore`) and to a staged snapshot file (`StagedSnapshot`), each on its own serial queue, so that
/// when the last chunk is in, the tree is built and the file written but for their last pieces — at 10M znodes
/// that takes seconds off a wiped follower's rejoin, which used to restore, then write, after the transfer.
///
/// The core still decides what becomes of the snapshot: when the `.snapshot` message reaches the core thread the
/// shell waits for this intake (`prepared()`), hands the core the tree (`EnsembleState.preparedSnapshot`) and the
/// storage the sealed file, and the message is processed as before; an install then commits the file instead of
/// writing the bytes again. Anything the intake could not do (a leader sending another layout, a restore or file
/// error) is left to that old path, which still has the reassembled bytes.
///
/// Threads: `add`, `finishReceiving` and `abandon` on the connection's event loop, in stream order; the work on
/// the two queues; `prepared()` on the core thread after `finishReceiving`.
final class SnapshotIntake: @unchecked Sendable {
    let zxid: Int64
    let totalBytes: Int
    private let restore: IncrementalRestore
    private var staged: StagedSnapshot?  // fileQueue only, until `prepared()`
    private var fileError: Error?  // fileQueue only, until `prepared()`
    private var tree: DataTree?  // restoreQueue only, until `prepared()`
    private var restoreError: SnapshotError?  // restoreQueue only, until `prepared()`
    private let restoreQueue = DispatchQueue(label: "warren.snapshot-intake.restore")
    private let fileQueue = DispatchQueue(label: "warren.snapshot-intake.file")
    private let finished = DispatchGroup()
    private var receiving = true  // event loop only

    /// What the intake made of a complete stream: the restored tree (nil if the layout cannot be restored
    /// piecewise or it failed) and the sealed snapshot file (nil without one or if writing it failed).
    struct Prepared {
        let zxid: Int64
        let tree: DataTree?
        let file: StagedSnapshot?
        /// Why the tree or the file is missing, for the log; empty when both are there.
        let notes: [String]
    }

    init(zxid: Int64, totalBytes: Int, config: TreeConfig, staged: StagedSnapshot?) {
        self.zxid = zxid
        self.totalBytes = totalBytes
        restore = IncrementalRestore(totalBytes: totalBytes, config: config)
        self.staged = staged
        writesFile = staged != nil
    }

    /// Whether a snapshot file is being written from the chunks (it may still fail; `prepared()` says).
    let writesFile: Bool

    /// The next chunk: `frame[payloadStart...]` are its state bytes (the frame is shared, not copied).
    func add(_ frame: [UInt8], payloadStart: Int) {
        precondition(receiving, "chunk added to a snapshot intake after its end")
        precondition((0...frame.count).contains(payloadStart), "chunk payload at \(payloadStart) of \(frame.count)")
        restoreQueue.async { [self] in
            frame.withUnsafeBytes { restore.feed(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
        }
        fileQueue.async { [self] in
            guard let file = staged else { return }
            do {
                try frame.withUnsafeBytes { try file.append(UnsafeRawBufferPointer(rebasing: $0[payloadStart...])) }
            } catch {
                dropFile(error)
            }
        }
    }

    /// The stream ended and verified: both queues finish their work (the restore's last nodes and checks, the
    /// file's last block, header and sync).
    func finishReceiving() {
        precondition(receiving, "snapshot intake finished twice")
        receiving = false
        restoreQueue.async(group: finished) { [self] in
            do throws(SnapshotError) {
                tree = try restore.finish()
            } catch {
                restoreError = error
            }
        }
        fileQueue.async(group: finished) { [self] in
            guard let file = staged else { return }
            do {
                try file.seal()
            } catch {
                dropFile(error)
            }
        }
    }

    /// On `fileQueue`: the file could not be written; the install will write the bytes itself (or, without them,
    /// stop the server as for any failed snapshot install).
    private func dropFile(_ error: Error) {
        fileError = error
        staged?.discard()
        staged = nil
    }

    /// The stream broke off: nothing of it is kept (the staged file is removed once the queue reaches it).
    func abandon() {
        receiving = false
        fileQueue.async { [self] in
            staged?.discard()
            staged = nil
        }
    }

    /// Waits for both queues (after `finishReceiving`) and hands over what they made. Once only.
    func prepared() -> Prepared {
        finished.wait()
        var notes: [String] = []
        if let restoreError { notes.append("restore while receiving failed: \(restoreError)") }
        if tree == nil && restoreError == nil { notes.append("not restored while receiving (snapshot layout)") }
        if let fileError { notes.append("snapshot file not written while receiving: \(fileError)") }
        defer { staged = nil }
        return Prepared(zxid: zxid, tree: tree, file: staged, notes: notes)
    }
}
