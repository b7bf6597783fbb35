/// Text the server core prints, formatted without Foundation (the core reads no clock, file or locale).
package enum TextFormat {
    /// `value` with exactly four decimals, as C's `%.4f` prints it (ZooKeeper's latency averages): a negative value
    /// that rounds to zero keeps its sign; a product `value × 10⁴` exactly halfway between two integers rounds away
    /// from zero (printf: to even). Non-finite values print as Swift does.
    static func fixed4(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 9e14 else { return "\(value)" }
        let scaled = Int64((abs(value) * 10_000).rounded(.toNearestOrAwayFromZero))
        let fraction = String(scaled % 10_000)
        let sign = value.sign == .minus ? "-" : ""
        return "\(sign)\(scaled / 10_000).\(String(repeating: "0", count: 4 - fraction.count))\(fraction)"
    }

    /// A wall-clock time (ms since the Unix epoch) as Java's `Date.toString()` prints it in UTC:
    /// `Tue Dec 08 00:40:00 UTC 2026` (ZooKeeper's `dump`).
    static func javaDateUTC(wallMs: Int64) -> String {
        let seconds = wallMs >= 0 ? wallMs / 1000 : (wallMs - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        let weekday = Int(((days % 7) + 11) % 7)  // 1970-01-01 was a Thursday (4, counting from Sunday)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekdayNames[weekday]) \(monthNames[month - 1]) \(two(Int64(day))) "
            + "\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) UTC \(year)"
    }

    private static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// The proleptic Gregorian date of a day counted from 1970-01-01, by eras of 400 years (146,097 days), each
    /// counted from March 1 so that the leap day falls at the end of a year.
    static func civilDate(daysSinceEpoch: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468  // days from 0000-03-01
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        let month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `text` without leading and trailing white space.
    static func trimmed<S: StringProtocol>(_ text: S) -> Substring {
        let s = Substring(text)
        guard let first = s.firstIndex(where: { !$0.isWhitespace }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { !$0.isWhitespace })!
        return s[first...last]
    }
}
