/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and asctime in.
/// Pure arithmetic on days since the epoch (Howard Hinnant's civil calendar algorithms): no
/// gmtime, no locale, no Foundation, no allocation beyond what `out` itself may need.
public enum HTTPDate {
    /// Bytes in an IMF-fixdate: `Sat, 28 Nov 2026 15:20:08 GMT`.
    public static let length = 29

    /// The range `format` can write with a four-digit year: 0000-01-01 to 9999-12-31T23:59:59Z.
    /// Seconds outside it are clamped.
    public static let earliestFormattable = -62_167_219_200
    public static let latestFormattable = 253_402_300_799

    static let shortDayNames: StaticString = "ThuFriSatSunMonTueWed"   // 1970-01-01 was a Thursday
    static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Appends the IMF-fixdate for `epochSeconds` (UTC), always exactly `length` bytes.
    public static func format(epochSeconds: Int, into out: inout [UInt8]) {
        var buffer: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &buffer) { raw in
            write(epochSeconds: epochSeconds, to: raw)
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<length]))
        }
    }

    /// Writes the IMF-fixdate into the first 29 bytes of `raw`.
    static func write(epochSeconds: Int, to raw: UnsafeMutableRawBufferPointer) {
        precondition(raw.count >= length)
        let t = min(max(epochSeconds, earliestFormattable), latestFormattable)
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400      // floor division
        let secondOfDay = t - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        let weekday = ((days % 7) + 7) % 7
        copyName(shortDayNames, weekday, to: raw, at: 0)
        raw[3] = UInt8(ascii: ",")
        raw[4] = 0x20
        writeTwoDigits(day, to: raw, at: 5)
        raw[7] = 0x20
        copyName(monthNames, month - 1, to: raw, at: 8)
        raw[11] = 0x20
        writeTwoDigits(year / 100, to: raw, at: 12)
        writeTwoDigits(year % 100, to: raw, at: 14)
        raw[16] = 0x20
        writeTwoDigits(secondOfDay / 3600, to: raw, at: 17)
        raw[19] = UInt8(ascii: ":")
        writeTwoDigits(secondOfDay / 60 % 60, to: raw, at: 20)
        raw[22] = UInt8(ascii: ":")
        writeTwoDigits(secondOfDay % 60, to: raw, at: 23)
        raw[25] = 0x20
        raw[26] = UInt8(ascii: "G")
        raw[27] = UInt8(ascii: "M")
        raw[28] = UInt8(ascii: "T")
    }

    // MARK: Parsing

    /// Epoch seconds of an HTTP-date in any of RFC 9110's three forms, or nil:
    ///
    ///     Sun, 06 Nov 1994 08:49:37 GMT    IMF-fixdate
    ///     Sunday, 06-Nov-94 08:49:37 GMT   obsolete RFC 850 form
    ///     Sun Nov  6 08:49:37 1994         ANSI C asctime() form
    ///
    /// Surrounding spaces/tabs are ignored; otherwise the grammar is exact (names are
    /// case-sensitive, as RFC 9110 specifies). The day name must be a real one but is not checked
    /// against the date. The day must exist in its month; second 60 (leap second) is accepted.
    /// RFC 850 two-digit years: 70–99 are 19xx, 00–69 are 20xx.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var lo = 0, hi = bytes.count
        while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
        while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
        let b = UnsafeRawBufferPointer(rebasing: bytes[lo..<hi])
        guard b.count >= 24 else { return nil }
        switch b[3] {
        case UInt8(ascii: ","): return parseIMFFixdate(b)
        case 0x20: return parseAsctime(b)
        default: return parseRFC850(b)
        }
    }

    /// `Sun, 06 Nov 1994 08:49:37 GMT`
    private static func parseIMFFixdate(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count == 29, isShortDayName(b, at: 0), b[4] == 0x20, let day = twoDigits(b, at: 5),
              b[7] == 0x20, let month = monthNumber(b, at: 8), b[11] == 0x20,
              let century = twoDigits(b, at: 12), let yy = twoDigits(b, at: 14), b[16] == 0x20,
              let clock = timeOfDay(b, at: 17), isGMT(b, at: 25) else { return nil }
        return epoch(year: century * 100 + yy, month: month, day: day, secondOfDay: clock)
    }

    /// `Sunday, 06-Nov-94 08:49:37 GMT`
    private static func parseRFC850(_ b: UnsafeRawBufferPointer) -> Int? {
        var comma = 6                                    // "Monday" is the shortest name
        while comma < b.count, comma <= 9, b[comma] != UInt8(ascii: ",") { comma += 1 }
        guard comma < b.count, isLongDayName(b, count: comma) else { return nil }
        let s = comma + 2                                // start of "06-Nov-94 08:49:37 GMT"
        guard b.count == s + 22, b[comma + 1] == 0x20, let day = twoDigits(b, at: s),
              b[s + 2] == UInt8(ascii: "-"), let month = monthNumber(b, at: s + 3),
              b[s + 6] == UInt8(ascii: "-"), let yy = twoDigits(b, at: s + 7), b[s + 9] == 0x20,
              let clock = timeOfDay(b, at: s + 10), isGMT(b, at: s + 18) else { return nil }
        return epoch(year: yy < 70 ? 2000 + yy : 1900 + yy, month: month, day: day, secondOfDay: clock)
    }

    /// `Sun Nov  6 08:49:37 1994` (the day is space-padded: `( 2DIGIT / ( SP DIGIT ) )`)
    private static func parseAsctime(_ b: UnsafeRawBufferPointer) -> Int? {
        guard b.count == 24, isShortDayName(b, at: 0), b[3] == 0x20, let month = monthNumber(b, at: 4),
              b[7] == 0x20, b[10] == 0x20, let clock = timeOfDay(b, at: 11), b[19] == 0x20,
              let century = twoDigits(b, at: 20), let yy = twoDigits(b, at: 22) else { return nil }
        let day: Int
        if b[8] == 0x20 {
            guard let units = digit(b[9]) else { return nil }
            day = units
        } else {
            guard let value = twoDigits(b, at: 8) else { return nil }
            day = value
        }
        return epoch(year: century * 100 + yy, month: month, day: day, secondOfDay: clock)
    }

    private static func epoch(year: Int, month: Int, day: Int, secondOfDay: Int) -> Int? {
        guard day >= 1, day <= daysInMonth(year: year, month: month) else { return nil }
        return days(fromCivil: year, month, day) * 86_400 + secondOfDay
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `HH:MM:SS` → seconds since midnight (hour 00–23, minute 00–59, second 00–60).
    @inline(__always)
    private static func timeOfDay(_ b: UnsafeRawBufferPointer, at i: Int) -> Int? {
        guard let h = twoDigits(b, at: i), b[i + 2] == UInt8(ascii: ":"), let m = twoDigits(b, at: i + 3),
              b[i + 5] == UInt8(ascii: ":"), let s = twoDigits(b, at: i + 6),
              h < 24, m < 60, s <= 60 else { return nil }
        return h * 3600 + m * 60 + s
    }

    @inline(__always)
    private static func digit(_ c: UInt8) -> Int? {
        c >= 0x30 && c <= 0x39 ? Int(c &- 0x30) : nil
    }

    @inline(__always)
    private static func twoDigits(_ b: UnsafeRawBufferPointer, at i: Int) -> Int? {
        guard let tens = digit(b[i]), let units = digit(b[i + 1]) else { return nil }
        return tens * 10 + units
    }

    @inline(__always)
    private static func isGMT(_ b: UnsafeRawBufferPointer, at i: Int) -> Bool {
        b[i] == 0x20 && b[i + 1] == UInt8(ascii: "G") && b[i + 2] == UInt8(ascii: "M")
            && b[i + 3] == UInt8(ascii: "T")
    }

    /// 1...12 for the case-sensitive three-letter month name at `i`.
    private static func monthNumber(_ b: UnsafeRawBufferPointer, at i: Int) -> Int? {
        let names = monthNames.utf8Start
        for month in 0..<12
        where names[month * 3] == b[i] && names[month * 3 + 1] == b[i + 1] && names[month * 3 + 2] == b[i + 2] {
            return month + 1
        }
        return nil
    }

    private static func isShortDayName(_ b: UnsafeRawBufferPointer, at i: Int) -> Bool {
        let names = shortDayNames.utf8Start
        for day in 0..<7
        where names[day * 3] == b[i] && names[day * 3 + 1] == b[i + 1] && names[day * 3 + 2] == b[i + 2] {
            return true
        }
        return false
    }

    /// Whether the first `count` bytes are a full day name (`Monday` … `Sunday`).
    private static func isLongDayName(_ b: UnsafeRawBufferPointer, count: Int) -> Bool {
        guard count >= 6, isShortDayName(b, at: 0) else { return false }
        let rest: StaticString
        switch (b[0], b[1]) {
        case (UInt8(ascii: "M"), _): rest = "day"          // Mon-day
        case (UInt8(ascii: "T"), UInt8(ascii: "u")): rest = "sday"     // Tue-sday
        case (UInt8(ascii: "W"), _): rest = "nesday"       // Wed-nesday
        case (UInt8(ascii: "T"), _): rest = "rsday"        // Thu-rsday
        case (UInt8(ascii: "F"), _): rest = "day"          // Fri-day
        case (UInt8(ascii: "S"), UInt8(ascii: "a")): rest = "urday"    // Sat-urday
        default: rest = "day"                              // Sun-day
        }
        guard count == 3 + rest.utf8CodeUnitCount else { return false }
        let r = rest.utf8Start
        for k in 0..<rest.utf8CodeUnitCount where b[3 + k] != r[k] { return false }
        return true
    }

    // MARK: Calendar

    /// Howard Hinnant's civil-from-days: days since 1970-01-01 → proleptic Gregorian date.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Howard Hinnant's days-from-civil, the inverse of `civil(fromDays:)`.
    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    @inline(__always)
    private static func copyName(_ names: StaticString, _ index: Int, to raw: UnsafeMutableRawBufferPointer,
                                 at i: Int) {
        let p = names.utf8Start + index * 3
        raw[i] = p[0]
        raw[i + 1] = p[1]
        raw[i + 2] = p[2]
    }

    @inline(__always)
    private static func writeTwoDigits(_ value: Int, to raw: UnsafeMutableRawBufferPointer, at i: Int) {
        raw[i] = UInt8(truncatingIfNeeded: value / 10) &+ 0x30
        raw[i + 1] = UInt8(truncatingIfNeeded: value % 10) &+ 0x30
    }
}

/// The current second's IMF-fixdate, formatted once per second for the `Date` header.
///
/// The 29 bytes live inline (no heap), so appending them costs one copy:
///
///     cache.append(to: &out, now: wallSeconds)                 // "Sat, 28 Nov 2026 15:20:08 GMT"
///     cache.withBytes(now: wallSeconds) { ResponseHead.appendStart(..., date: $0, to: &out) }
public struct HTTPDateCache: Sendable {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// The second whose date is cached; `Int.min` before the first use.
    public private(set) var epochSecond = Int.min

    public init() {}

    /// Re-formats only when `now` differs from the cached second.
    @inline(__always)
    public mutating func update(now: Int) {
        guard now != epochSecond else { return }
        epochSecond = now
        withUnsafeMutableBytes(of: &storage) { HTTPDate.write(epochSeconds: now, to: $0) }
    }

    /// Appends the 29-byte date for `now`.
    @inline(__always)
    public mutating func append(to out: inout [UInt8], now: Int) {
        update(now: now)
        withUnsafeBytes(of: &storage) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<HTTPDate.length])) }
    }

    /// Lends the 29-byte date for `now`; the pointer is valid only inside `body`.
    @inline(__always)
    public mutating func withBytes<R>(now: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        update(now: now)
        return try withUnsafeBytes(of: &storage) { try body(UnsafeRawBufferPointer(rebasing: $0[0..<HTTPDate.length])) }
    }
}
