/// Steele, Lea and Flood's SplitMix64: a tiny, well-mixed, deterministic generator — the only source of
/// randomness of the pure cores (session passwords, Zab's election jitter, the snapshot schedule's spread) and
/// of the load generator's key choice, so that one seed replays a run exactly. Not for secrets on its own: the
/// session tracker keys it with a secret drawn from the system.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
