/// HTTP dates (RFC 9110 §5.6.7): IMF-fixdate out, the three historic forms in.
/// Pure arithmetic on days since the epoch: no gmtime, no locale, no allocation.
public enum HTTPDate {
    static let dayNames: StaticString = "ThuFriSatSunMonTueWed"   // 1970-01-01 was a Thursday
    static let monthNames: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"

    /// Appends `Sat, 28 Nov 2026 15:20:08 GMT` (29 bytes).
    public static func format(epochSeconds: Int, into out: inout [UInt8]) {
        let days = epochSeconds >= 0 ? epochSeconds / 86_400 : (epochSeconds - 86_399) / 86_400
        let secondOfDay = epochSeconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        let weekday = ((days % 7) + 7) % 7
        appendName(dayNames, weekday, to: &out)
        out.append(UInt8(ascii: ","))
        out.append(UInt8(ascii: " "))
        appendTwoDigits(day, to: &out)
        out.append(UInt8(ascii: " "))
        appendName(monthNames, month - 1, to: &out)
        out.append(UInt8(ascii: " "))
        appendTwoDigits(year / 100, to: &out)
        appendTwoDigits(year % 100, to: &out)
        out.append(UInt8(ascii: " "))
        appendTwoDigits(secondOfDay / 3600, to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(secondOfDay / 60 % 60, to: &out)
        out.append(UInt8(ascii: ":"))
        appendTwoDigits(secondOfDay % 60, to: &out)
        let gmt: StaticString = " GMT"
        out.append(contentsOf: UnsafeRawBufferPointer(start: gmt.utf8Start, count: 4))
    }

    /// Epoch seconds of an IMF-fixdate, RFC 850 or asctime date; nil if it is none of them.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let text = String(decoding: bytes, as: UTF8.self)
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "-" }).map { $0 }
        guard fields.count >= 5 else { return nil }
        let day: Int?, monthName: Substring, yearValue: Int?, time: Substring
        if text.contains(",") {
            guard fields.count == 6, fields[5] == "GMT" else { return nil }
            day = Int(fields[1]); monthName = fields[2]; yearValue = Int(fields[3]); time = fields[4]
        } else {
            // asctime: "Sun Nov  6 08:49:37 1994"
            guard fields.count == 5 else { return nil }
            monthName = fields[1]; day = Int(fields[2]); time = fields[3]; yearValue = Int(fields[4])
        }
        guard var year = yearValue, let day, (1...31).contains(day),
              let month = monthIndex(monthName) else { return nil }
        if year < 100 { year += year < 70 ? 2000 : 1900 }   // RFC 850's two-digit years
        let clock = time.split(separator: ":")
        guard clock.count == 3, let h = Int(clock[0]), let m = Int(clock[1]), let s = Int(clock[2]),
              (0..<24).contains(h), (0..<60).contains(m), (0...60).contains(s) else { return nil }
        return days(fromCivil: year, month, day) * 86_400 + h * 3600 + m * 60 + s
    }

    private static func monthIndex(_ name: Substring) -> Int? {
        guard name.utf8.count == 3 else { return nil }
        let names = monthNames.utf8Start
        let bytes = Array(name.utf8)
        for month in 0..<12 where names[month * 3] == bytes[0] && names[month * 3 + 1] == bytes[1]
            && names[month * 3 + 2] == bytes[2] {
            return month + 1
        }
        return nil
    }

    /// Howard Hinnant's civil-from-days.
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

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func appendName(_ names: StaticString, _ index: Int, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeRawBufferPointer(start: names.utf8Start + index * 3, count: 3))
    }

    private static func appendTwoDigits(_ value: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value / 10) + 0x30)
        out.append(UInt8(truncatingIfNeeded: value % 10) + 0x30)
    }
}
