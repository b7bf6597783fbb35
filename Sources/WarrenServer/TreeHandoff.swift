import WarrenTree

/// A tree on its way to another thread: always a `committedCopy()` (which shares storage with the core's tree only
/// copy-on-write, so the core's later changes copy what they touch), and the sender keeps no reference it uses
/// again, so the receiving thread is its only user. `@unchecked` because Swift cannot see that ownership moves;
/// every place that makes one hands over a fresh copy and drops its own.
struct TreeHandoff: @unchecked Sendable {
    let tree: DataTree

    init(_ tree: DataTree) { self.tree = tree }
}
