import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// glibc malloc settings for a server whose big allocations are long-lived 1 MiB tree chunks and short-lived
/// snapshot buffers, and helpers to hand freed memory back to the kernel.
///
/// By default glibc raises its mmap threshold to the size of any mmapped block that is freed, so after the first
/// snapshot buffer or tree chunk is released, later 1 MiB chunks come from the per-thread heaps, where freeing
/// them leaves holes that keep resident memory up (measured: 1M znodes loaded, 236 MB RSS vs 177 MB for the same
/// tree restored). A fixed threshold keeps every such block its own mapping, unmapped on free.
enum MallocTuning {
    /// Blocks at least this large are always mmapped (and unmapped when freed): the tree's 1 MiB chunks (plus
    /// malloc's header) and snapshot buffers, but not the log writer's and the quorum's per-batch buffers, which
    /// with a lower threshold were mapped, faulted in and unmapped for every batch (~5 % of a writing server's CPU).
    static let mmapThresholdBytes = 1 << 20
    /// Free memory at the top of the heap kept for reuse instead of being returned at every free (fixing the mmap
    /// threshold also freezes this one at 128 KiB, which made the heap shrink and grow per batch).
    static let trimThresholdBytes = 64 << 20

    #if canImport(Glibc)
    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    // The Swift Glibc module does not export these two; look them up once. Safe to share: each is written once by
    // the (thread-safe) lazy initialization of a static, never again, and points at code.
    private nonisolated(unsafe) static let mallopt: UnsafeMutableRawPointer? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt")
    private nonisolated(unsafe) static let mallocTrim: UnsafeMutableRawPointer? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim")
    private static let mMmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD in malloc.h
    private static let mTrimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
    #endif

    /// Call once at start-up, before the tree is loaded.
    static func apply() {
        #if canImport(Glibc)
        if let f = mallopt {
            let set = unsafeBitCast(f, to: Mallopt.self)
            _ = set(mMmapThreshold, Int32(mmapThresholdBytes))
            _ = set(mTrimThreshold, Int32(trimThresholdBytes))
        }
        #endif
    }

    /// Returns free heap pages to the kernel (after a snapshot or recovery freed hundreds of MB).
    static func returnFreedMemory() {
        #if canImport(Glibc)
        if let f = mallocTrim { _ = unsafeBitCast(f, to: MallocTrim.self)(0) }
        #endif
    }
}
