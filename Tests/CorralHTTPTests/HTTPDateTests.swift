@testable import CorralHTTP
import Foundation
import Testing

private func bytesOf(_ text: String) -> [UInt8] { Array(text.utf8) }

private func httpDate(_ epoch: Int) -> String {
    var out: [UInt8] = []
    HTTPDate.format(epochSeconds: epoch, into: &out)
    return String(decoding: out, as: UTF8.self)
}

private func parseHTTPDate(_ text: String) -> Int? {
    bytesOf(text).withUnsafeBytes { HTTPDate.parse($0) }
}

/// A small deterministic generator (PCG-style LCG) for sweeps.
private struct SweepRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}

private func formatter(_ pattern: String) -> DateFormatter {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.calendar = Calendar(identifier: .gregorian)
    f.dateFormat = pattern
    return f
}

@Suite struct HTTPDateTests {
    @Test(arguments: [
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (86_399, "Thu, 01 Jan 1970 23:59:59 GMT"),
        (86_400, "Fri, 02 Jan 1970 00:00:00 GMT"),
        (784_111_777, "Sun, 06 Nov 1994 08:49:37 GMT"),                 // RFC 9110's example
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 GMT"),                 // leap day of a 400-year
        (951_868_799, "Tue, 29 Feb 2000 23:59:59 GMT"),
        (951_868_800, "Wed, 01 Mar 2000 00:00:00 GMT"),
        (1_078_099_199, "Sun, 29 Feb 2004 23:59:59 GMT"),               // ordinary leap year
        (1_709_164_800, "Thu, 29 Feb 2024 00:00:00 GMT"),
        (1_740_787_199, "Fri, 28 Feb 2025 23:59:59 GMT"),               // not a leap year
        (1_740_787_200, "Sat, 01 Mar 2025 00:00:00 GMT"),
        (1_000_000_000, "Sun, 09 Sep 2001 01:46:40 GMT"),
        (1_795_879_208, "Sat, 28 Nov 2026 15:20:08 GMT"),
        (1_798_761_599, "Thu, 31 Dec 2026 23:59:59 GMT"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 GMT"),               // past Int32
        (2_147_483_648, "Tue, 19 Jan 2038 03:14:08 GMT"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 GMT"),               // 2100 is not a leap year
        (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 GMT"),
        (-1, "Wed, 31 Dec 1969 23:59:59 GMT"),
        (-86_400, "Wed, 31 Dec 1969 00:00:00 GMT"),
        (-86_401, "Tue, 30 Dec 1969 23:59:59 GMT"),
        // Clamped to four-digit years.
        (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (Int.max, "Fri, 31 Dec 9999 23:59:59 GMT"),
        (-62_167_219_200, "Sat, 01 Jan 0000 00:00:00 GMT"),
        (Int.min, "Sat, 01 Jan 0000 00:00:00 GMT"),
    ])
    func format(_ epoch: Int, _ expected: String) {
        let formatted = httpDate(epoch)
        #expect(formatted == expected)
        #expect(formatted.utf8.count == HTTPDate.length)
    }

    @Test func formatAppends() {
        var out = bytesOf("Date: ")
        HTTPDate.format(epochSeconds: 0, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "Date: Thu, 01 Jan 1970 00:00:00 GMT")
    }

    /// Foundation agrees on a sweep of seconds between 1970 and 2200.
    @Test func formatMatchesFoundation() {
        let reference = formatter("EEE, dd MMM yyyy HH:mm:ss 'GMT'")
        var random = SweepRandom(state: 42)
        for _ in 0..<3_000 {
            let epoch = Int.random(in: 0..<7_258_118_400, using: &random)
            #expect(httpDate(epoch) == reference.string(from: Date(timeIntervalSince1970: TimeInterval(epoch))),
                    "\(epoch)")
        }
    }

    @Test(arguments: [
        // IMF-fixdate
        ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
        ("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400),
        ("Sat, 28 Nov 2026 15:20:08 GMT", 1_795_879_208),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
        ("Wed, 31 Dec 1969 23:59:59 GMT", -1),
        ("Fri, 31 Dec 9999 23:59:59 GMT", 253_402_300_799),
        ("Sun, 06 Nov 1994 08:49:60 GMT", 784_111_800),       // a leap second counts as :60
        ("  Sun, 06 Nov 1994 08:49:37 GMT\t", 784_111_777),  // OWS around the value
        ("Mon, 06 Nov 1994 08:49:37 GMT", 784_111_777),       // the day name is not cross-checked
        // RFC 850
        ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
        ("Tuesday, 29-Feb-00 00:00:00 GMT", 951_782_400),
        ("Saturday, 28-Nov-26 15:20:08 GMT", 1_795_879_208),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),       // RFC 9110's example
        ("Monday, 06-Nov-94 08:49:37 GMT", 784_111_777),
        ("Tuesday, 31-Dec-69 00:00:00 GMT", 3_155_673_600),    // 00–69 are 20xx
        ("Friday, 01-Jan-99 00:00:00 GMT", 915_148_800),
        // asctime
        ("Thu Jan  1 00:00:00 1970", 0),
        ("Tue Feb 29 00:00:00 2000", 951_782_400),
        ("Sat Nov 28 15:20:08 2026", 1_795_879_208),
        ("Sun Nov  6 08:49:37 1994", 784_111_777),             // RFC 9110's example
        ("Sun Nov 06 08:49:37 1994", 784_111_777),             // 2DIGIT day is valid too
    ])
    func parse(_ text: String, _ expected: Int) {
        #expect(parseHTTPDate(text) == expected)
    }

    @Test(arguments: [0, 951_782_400, 1_795_879_208, 784_111_777, 1_000_000_000, 4_102_444_800, -1,
                      253_402_300_799, -62_167_219_200])
    func roundTrip(_ epoch: Int) {
        #expect(parseHTTPDate(httpDate(epoch)) == epoch)
    }

    /// All three forms, as Foundation spells them, parse back to the same second.
    @Test func parsesFoundationOutput() {
        let imf = formatter("EEE, dd MMM yyyy HH:mm:ss 'GMT'")
        let rfc850 = formatter("EEEE, dd-MMM-yy HH:mm:ss 'GMT'")
        let asctimeHead = formatter("EEE MMM")
        let asctimeTail = formatter("HH:mm:ss yyyy")
        let dayOfMonth = formatter("d")
        var random = SweepRandom(state: 7)
        for _ in 0..<2_000 {
            // 1970...2069, where RFC 850's two-digit years are unambiguous.
            let epoch = Int.random(in: 0..<3_155_760_000, using: &random)
            let date = Date(timeIntervalSince1970: TimeInterval(epoch))
            #expect(parseHTTPDate(imf.string(from: date)) == epoch)
            #expect(parseHTTPDate(rfc850.string(from: date)) == epoch, "\(rfc850.string(from: date))")
            let day = dayOfMonth.string(from: date)
            let asctime = asctimeHead.string(from: date) + (day.count == 1 ? "  " : " ") + day + " "
                + asctimeTail.string(from: date)
            #expect(parseHTTPDate(asctime) == epoch, "\(asctime)")
        }
    }

    @Test(arguments: [
        "",
        "junk",
        "yesterday at noon",
        "1795879208",
        // IMF-fixdate, almost.
        "Sat, 28 Nov 2026 15:20:08",          // no GMT
        "Sat, 28 Nov 2026 15:20:08 UTC",
        "Sat, 28 Nov 2026 15:20:08 gmt",
        "Sat, 28 Nov 2026 15:20:08 GMT extra",
        "Sat, 28 Nov 2026 15:20:08 GMTX",
        "Sat, 28 Nov 2026 15:20:08  GMT",
        "Sat,  28 Nov 2026 15:20:08 GMT",
        "Sat, 8 Nov 2026 15:20:08 GMT",       // one-digit day
        "Sat, 32 Nov 2026 15:20:08 GMT",      // day out of range
        "Sat, 00 Nov 2026 15:20:08 GMT",
        "Mon, 31 Nov 2026 15:20:08 GMT",      // November has 30 days
        "Sun, 29 Feb 2026 00:00:00 GMT",      // not a leap year
        "Mon, 29 Feb 2100 00:00:00 GMT",      // nor is 2100
        "Sat, 28 Foo 2026 15:20:08 GMT",      // unknown month
        "Sat, 28 nov 2026 15:20:08 GMT",      // names are case-sensitive
        "sat, 28 Nov 2026 15:20:08 GMT",
        "Xyz, 28 Nov 2026 15:20:08 GMT",
        "Sat, 28 November 2026 15:20:08 GMT",
        "Sat, 28 Nov 26 15:20:08 GMT",
        "Sat, 28 Nov 2026 24:00:00 GMT",      // hour out of range
        "Sat, 28 Nov 2026 15:60:00 GMT",
        "Sat, 28 Nov 2026 15:20:61 GMT",
        "Sat, 28 Nov 2026 15:20 GMT",
        "Sat, 28 Nov 2026 15:20:08:00 GMT",
        "Sat, 28 Nov 2026 15-20-08 GMT",
        "Sat, 28 Nov 2026 1a:20:08 GMT",
        "Sat, xx Nov 2026 15:20:08 GMT",
        "Sat, 28 Nov yyyy 15:20:08 GMT",
        "Sat, 28 Nov -026 15:20:08 GMT",
        "Sat, +8 Nov 2026 15:20:08 GMT",
        "Sat, 28-Nov-2026 15:20:08 GMT",
        // RFC 850, almost.
        "Saturday, 28-Nov-2026 15:20:08 GMT",
        "Saturday, 28 Nov 26 15:20:08 GMT",
        "Saturday,28-Nov-26 15:20:08 GMT",
        "Sunday, 29-Feb-26 00:00:00 GMT",
        "Saturdai, 28-Nov-26 15:20:08 GMT",
        "Satday, 28-Nov-26 15:20:08 GMT",
        "Caturday, 28-Nov-26 15:20:08 GMT",
        "Wednesdays, 28-Nov-26 15:20:08 GMT",
        "Sat, 28-Nov-26 15:20:08 GMT",
        "Saturday, 28-Nov-26 15:20:08",
        "Saturday, 28-Nov-26 15:20:08 UTC",
        // asctime, almost.
        "Sat Nov 28 15:20:08",                // no year
        "Sat Nov 28 15:20:08 2026 GMT",
        "Sat Nov 28 15:20:08 26",
        "Sat Nov 8 15:20:08 2026",            // a one-digit day is space-padded
        "Sat Nov   8 15:20:08 2026",
        "Sat Nov x8 15:20:08 2026",
        "Sat Nov  x 15:20:08 2026",
        "Sat Nov  0 15:20:08 2026",
        "Sat Nov 31 15:20:08 2026",
        "Sat nov 28 15:20:08 2026",
        "Sat  Nov 28 15:20:08 2026",
    ])
    func parseJunk(_ text: String) {
        #expect(parseHTTPDate(text) == nil)
    }

    @Test func parseRejectsNonASCII() {
        var bytes = bytesOf("Sat, 28 Nov 2026 15:20:08 GMT")
        bytes[9] = 0xC3
        #expect(bytes.withUnsafeBytes { HTTPDate.parse($0) } == nil)
        #expect([UInt8]().withUnsafeBytes { HTTPDate.parse($0) } == nil)
    }

    @Test func civilRoundTrip() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            let (y, m, d) = HTTPDate.civil(fromDays: days)
            #expect((1...12).contains(m) && d >= 1 && d <= HTTPDate.daysInMonth(year: y, month: m))
            #expect(HTTPDate.days(fromCivil: y, m, d) == days)
        }
    }

    // MARK: HTTPDateCache

    @Test func cacheFormatsTheGivenSecond() {
        var cache = HTTPDateCache()
        #expect(cache.epochSecond == Int.min)
        var out = bytesOf("Date: ")
        cache.append(to: &out, now: 1_795_879_208)
        #expect(String(decoding: out, as: UTF8.self) == "Date: Sat, 28 Nov 2026 15:20:08 GMT")
        #expect(cache.epochSecond == 1_795_879_208)
        cache.withBytes(now: 1_795_879_208) { bytes in
            #expect(bytes.count == 29)
            #expect(String(decoding: bytes, as: UTF8.self) == "Sat, 28 Nov 2026 15:20:08 GMT")
        }
    }

    @Test func cacheFollowsTheClock() {
        var cache = HTTPDateCache()
        var random = SweepRandom(state: 99)
        var now = 1_795_879_208
        for step in 0..<2_000 {
            // Mostly the same second, sometimes the next, sometimes a jump either way.
            switch step % 7 {
            case 0: now += 1
            case 3: now += Int.random(in: -100_000...100_000, using: &random)
            default: break
            }
            var cached: [UInt8] = []
            cache.append(to: &cached, now: now)
            var fresh: [UInt8] = []
            HTTPDate.format(epochSeconds: now, into: &fresh)
            #expect(cached == fresh)
            #expect(cache.epochSecond == now)
            cache.withBytes(now: now) { #expect(Array($0) == fresh) }
        }
    }

    /// Appending the cached date into a buffer with room never reallocates it.
    @Test func cacheAppendsInPlace() {
        var cache = HTTPDateCache()
        cache.update(now: 0)
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        let base = out.withUnsafeBufferPointer { $0.baseAddress }
        for second in 0..<100 { cache.append(to: &out, now: second / 3) }
        #expect(out.count == 100 * 29)
        #expect(out.withUnsafeBufferPointer { $0.baseAddress } == base)
    }
}
