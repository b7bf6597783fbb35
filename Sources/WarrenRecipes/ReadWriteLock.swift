import WarrenClient

/// A read-write lock in the layout of Curator's `InterProcessReadWriteLock`: readers are
/// `<path>/_c_<uuid>-__READ__<seq>`, writers `<path>/_c_<uuid>-__WRIT__<seq>`, all ordered by sequence. A writer
/// holds the lock when it is first of all; a reader when no writer comes before it (it watches the first writer).
/// The holder of `writeLock` may also take `readLock` (a downgrade, as in Curator). Each half is a
/// `DistributedLock` with its contract (re-entrancy per instance, loss on session expiry, cancellation).
public final class ReadWriteLock: Sendable {
    static let readMarker = "__READ__"
    static let writeMarker = "__WRIT__"

    public let readLock: DistributedLock
    public let writeLock: DistributedLock

    public init(client: ZooKeeperClient, path: String, data: [UInt8] = []) {
        let markers = [Self.readMarker, Self.writeMarker]
        let writer = DistributedLock(
            client: client, path: path, flavor: .exclusive(marker: Self.writeMarker, sortMarkers: markers), data: data)
        let reader = LockFlavor(marker: Self.readMarker, sortMarkers: markers) { sorted, ours in
            ContenderOrder.reader(sorted: sorted, ours: ours, writerMarker: Self.writeMarker,
                                  ownerHoldsWrite: await writer.isHeld)
        }
        writeLock = writer
        readLock = DistributedLock(client: client, path: path, flavor: reader, data: data)
    }
}
