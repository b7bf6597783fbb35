/// A fixed-size log-linear latency histogram: recording is a few integer operations and one array increment, so
/// it can sit on the hot path of the load generator.
///
/// Values below 128 are exact; above, every power-of-two range is split into 64 equal buckets, so a reported value
/// is within 1/64 (about 1.6%) of the true one. Values are nanoseconds by convention but the type is unit-agnostic.
public struct LatencyHistogram: Sendable, Equatable {
    static let exactMax: UInt64 = 128
    static let subBucketsPerPower = 64
    /// Enough buckets for every UInt64: exact ones, then 64 per power of two from 2^7 to 2^63.
    static let bucketCount = 128 + 57 * 64

    private var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var min: UInt64 = .max
    public private(set) var max: UInt64 = 0
    private var sum: Double = 0

    public init() { counts = [UInt64](repeating: 0, count: Self.bucketCount) }

    @inline(__always)
    static func index(of value: UInt64) -> Int {
        if value < exactMax { return Int(value) }
        let msb = 63 - value.leadingZeroBitCount
        let shift = msb - 6
        let mantissa = Int(value >> UInt64(shift))  // in 64..<128
        return 128 + (shift - 1) * subBucketsPerPower + (mantissa - 64)
    }

    /// The smallest and largest value that land in bucket `index`.
    static func range(of index: Int) -> ClosedRange<UInt64> {
        precondition(index >= 0 && index < bucketCount, "bucket \(index) outside 0..<\(bucketCount)")
        if index < 128 { return UInt64(index)...UInt64(index) }
        let shift = (index - 128) / subBucketsPerPower + 1
        let mantissa = UInt64((index - 128) % subBucketsPerPower + 64)
        let low = mantissa << UInt64(shift)
        return low...(low + (UInt64(1) << UInt64(shift)) - 1)
    }

    @inline(__always)
    public mutating func record(_ value: UInt64) {
        counts[Self.index(of: value)] &+= 1
        count &+= 1
        sum += Double(value)
        if value < min { min = value }
        if value > max { max = value }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for i in 0..<counts.count where other.counts[i] != 0 { counts[i] &+= other.counts[i] }
        count &+= other.count
        sum += other.sum
        if other.min < min { min = other.min }
        if other.max > max { max = other.max }
    }

    public var mean: Double { count == 0 ? 0 : sum / Double(count) }

    /// The value at quantile `q` (0...1): the smallest recorded value such that at least `q` of all values are at or
    /// below it, to bucket precision (the bucket's midpoint, clamped to the exact min and max). 0 when empty.
    public func value(atQuantile q: Double) -> UInt64 {
        precondition(q >= 0 && q <= 1, "quantile \(q) outside 0...1")
        guard count > 0 else { return 0 }
        let rank = Swift.max(1, UInt64((q * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for i in 0..<counts.count where counts[i] != 0 {
            seen += counts[i]
            if seen >= rank {
                let r = Self.range(of: i)
                let mid = r.lowerBound + (r.upperBound - r.lowerBound) / 2
                return Swift.min(Swift.max(mid, min), max)
            }
        }
        return max
    }
}
