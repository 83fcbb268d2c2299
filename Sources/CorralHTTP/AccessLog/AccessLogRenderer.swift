import Glibc

/// Renders access-log lines exactly as gunicorn does, appending to a caller-owned buffer:
/// no allocation per line. `"` in values becomes `\"` (as gunicorn's SafeAtoms); control bytes
/// become `\xNN` so a request cannot forge extra log lines (gunicorn does not do this).
public struct AccessLogRenderer {
    private let atoms: [AccessLogFormat.Atom]
    private let storage: [UInt8]
    private let usesTime: Bool
    private var timeSecond = Int.min
    private var timeText: [UInt8] = []

    public init(format: AccessLogFormat) {
        atoms = format.atoms
        storage = format.storage
        usesTime = format.atoms.contains(.time)
        timeText.reserveCapacity(32)
    }

    /// Appends one line and a newline. `now` is the epoch second (the loop's cached clock).
    public mutating func render<Entry: AccessLogEntry>(_ entry: Entry, now: Int, into out: inout [UInt8]) {
        if usesTime && now != timeSecond { formatTime(now) }
        atoms.withUnsafeBufferPointer { atoms in
            storage.withUnsafeBytes { storage in
                render(entry, atoms: atoms, storage: storage, into: &out)
            }
        }
        out.append(0x0A)
    }

    private func render<Entry: AccessLogEntry>(_ entry: Entry, atoms: UnsafeBufferPointer<AccessLogFormat.Atom>,
                                               storage: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        let buffer = entry.requestBuffer
        let head = entry.head
        for atom in atoms {
            switch atom {
            case .literal(let text):
                out.append(contentsOf: text.bytes(in: storage))
            case .remoteAddress:
                value(entry.remoteAddress.isEmpty ? nil : entry.remoteAddress, to: &out)
            case .dash, .unknown:
                out.append(UInt8(ascii: "-"))
            case .user:
                appendUser(entry, to: &out)
            case .time:
                out.append(contentsOf: timeText)
            case .requestLine:
                escaped(head.methodBytes.bytes(in: buffer), to: &out)
                out.append(0x20)
                escaped(head.target.bytes(in: buffer), to: &out)
                out.append(0x20)
                ResponseHead.append(head.version.text, to: &out)
            case .method:
                escaped(head.methodBytes.bytes(in: buffer), to: &out)
            case .path:
                appendDecodedPath(entry, to: &out)
            case .query:
                if let query = head.query { escaped(query.bytes(in: buffer), to: &out) }
            case .protocol:
                ResponseHead.append(head.version.text, to: &out)
            case .status:
                ResponseHead.appendDecimal(Int(entry.status), to: &out)
            case .bodyBytes:
                ResponseHead.appendDecimal(entry.bodyBytesSent, to: &out)
            case .referer:
                joinedHeader("referer", entry, to: &out)
            case .userAgent:
                joinedHeader("user-agent", entry, to: &out)
            case .seconds:
                ResponseHead.appendDecimal(entry.durationMicroseconds / 1_000_000, to: &out)
            case .milliseconds:
                ResponseHead.appendDecimal(entry.durationMicroseconds / 1000, to: &out)
            case .microseconds:
                ResponseHead.appendDecimal(entry.durationMicroseconds, to: &out)
            case .decimalSeconds:
                ResponseHead.appendDecimal(entry.durationMicroseconds / 1_000_000, to: &out)
                out.append(UInt8(ascii: "."))
                let micros = entry.durationMicroseconds % 1_000_000
                var scale = 100_000
                while scale > 0 {
                    out.append(UInt8(truncatingIfNeeded: micros / scale % 10) + 0x30)
                    scale /= 10
                }
            case .pid:
                out.append(UInt8(ascii: "<"))
                ResponseHead.appendDecimal(Int(entry.pid), to: &out)
                out.append(UInt8(ascii: ">"))
            case .requestHeader(let name):
                value(Self.header(name.bytes(in: storage), entry), to: &out)
            case .responseHeader(let name):
                value(entry.responseHeader(name.bytes(in: storage)), to: &out)
            case .environment(let name, let processValue):
                appendEnvironment(name.bytes(in: storage), processValue?.bytes(in: storage), entry, to: &out)
            }
        }
    }

    // MARK: Atoms that need work

    private func appendDecodedPath<Entry: AccessLogEntry>(_ entry: Entry, to out: inout [UInt8]) {
        let start = out.count
        PercentDecoding.decode(entry.head.path.bytes(in: entry.requestBuffer), appendingTo: &out)
        escapeInPlace(from: start, in: &out)
    }

    /// `u`: the user name of `Authorization: Basic base64(user:password)`.
    private func appendUser<Entry: AccessLogEntry>(_ entry: Entry, to out: inout [UInt8]) {
        guard let authorization = Self.header("authorization", entry), authorization.count > 6,
              UnsafeRawBufferPointer(rebasing: authorization[..<6]).equalsLowercased("basic ") else {
            out.append(UInt8(ascii: "-"))
            return
        }
        let start = out.count
        guard Base64.decode(UnsafeRawBufferPointer(rebasing: authorization[6...]), appendingTo: &out) else {
            out.removeSubrange(start...)
            out.append(UInt8(ascii: "-"))
            return
        }
        if let colon = out[start...].firstIndex(of: UInt8(ascii: ":")) { out.removeSubrange(colon...) }
        if out.count == start { out.append(UInt8(ascii: "-")) }
        escapeInPlace(from: start, in: &out)
    }

    private func appendEnvironment<Entry: AccessLogEntry>(_ key: UnsafeRawBufferPointer, _ processValue: UnsafeRawBufferPointer?,
                                                          _ entry: Entry, to out: inout [UInt8]) {
        let buffer = entry.requestBuffer
        let head = entry.head
        do {
            if key.equalsLowercased("request_method") {
                escaped(head.methodBytes.bytes(in: buffer), to: &out)
            } else if key.equalsLowercased("path_info") {
                appendDecodedPath(entry, to: &out)
            } else if key.equalsLowercased("query_string") {
                if let query = head.query { escaped(query.bytes(in: buffer), to: &out) }
            } else if key.equalsLowercased("raw_uri") {
                escaped(head.target.bytes(in: buffer), to: &out)
            } else if key.equalsLowercased("server_protocol") {
                ResponseHead.append(head.version.text, to: &out)
            } else if key.equalsLowercased("remote_addr") {
                value(entry.remoteAddress.isEmpty ? nil : entry.remoteAddress, to: &out)
            } else if key.count > 5, UnsafeRawBufferPointer(rebasing: key[..<5]).equalsLowercased("http_") {
                joinedHeader(cgiName: UnsafeRawBufferPointer(rebasing: key[5...]), entry, to: &out)
            } else if let processValue {
                escaped(processValue, to: &out)
            } else {
                out.append(UInt8(ascii: "-"))
            }
        }
    }

    /// `[28/Nov/2026:15:20:08 +0000]` in local time, recomputed once per second.
    private mutating func formatTime(_ now: Int) {
        timeSecond = now
        var seconds = time_t(now)
        var parts = tm()
        localtime_r(&seconds, &parts)
        timeText.removeAll(keepingCapacity: true)
        timeText.append(UInt8(ascii: "["))
        twoDigits(Int(parts.tm_mday), &timeText)
        timeText.append(UInt8(ascii: "/"))
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        timeText.append(contentsOf: UnsafeRawBufferPointer(start: months.utf8Start + Int(parts.tm_mon) * 3, count: 3))
        timeText.append(UInt8(ascii: "/"))
        ResponseHead.appendDecimal(Int(parts.tm_year) + 1900, to: &timeText)
        timeText.append(UInt8(ascii: ":"))
        twoDigits(Int(parts.tm_hour), &timeText)
        timeText.append(UInt8(ascii: ":"))
        twoDigits(Int(parts.tm_min), &timeText)
        timeText.append(UInt8(ascii: ":"))
        twoDigits(Int(parts.tm_sec), &timeText)
        timeText.append(0x20)
        let offset = parts.tm_gmtoff
        timeText.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        twoDigits(Int(abs(offset) / 3600), &timeText)
        twoDigits(Int(abs(offset) / 60 % 60), &timeText)
        timeText.append(UInt8(ascii: "]"))
    }

    private func twoDigits(_ value: Int, _ out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: value / 10 % 10) + 0x30)
        out.append(UInt8(truncatingIfNeeded: value % 10) + 0x30)
    }

    // MARK: Values and escaping

    private func value(_ bytes: UnsafeRawBufferPointer?, to out: inout [UInt8]) {
        guard let bytes else {
            out.append(UInt8(ascii: "-"))
            return
        }
        escaped(bytes, to: &out)
    }

    private func escaped(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        for byte in bytes { Self.appendEscaped(byte, to: &out) }
    }

    /// Escapes the bytes appended since `start` (used after decoding straight into `out`).
    private func escapeInPlace(from start: Int, in out: inout [UInt8]) {
        guard out[start...].contains(where: Self.needsEscape) else { return }
        let raw = Array(out[start...])
        out.removeSubrange(start...)
        for byte in raw { Self.appendEscaped(byte, to: &out) }
    }

    private static func needsEscape(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "\"") || byte < 0x20 || byte == 0x7F
    }

    @inline(__always)
    private static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        if !needsEscape(byte) {
            out.append(byte)
        } else if byte == UInt8(ascii: "\"") {
            out.append(UInt8(ascii: "\\"))
            out.append(byte)
        } else {
            let hex: StaticString = "0123456789abcdef"
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "x"))
            out.append(hex.utf8Start[Int(byte >> 4)])
            out.append(hex.utf8Start[Int(byte & 0xF)])
        }
    }

    // MARK: Header lookup

    /// The LAST value of a request header (gunicorn builds a dict, so later fields win).
    private static func header<Entry: AccessLogEntry>(_ lowercased: StaticString, _ entry: Entry) -> UnsafeRawBufferPointer? {
        header(UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount), entry)
    }

    private static func header<Entry: AccessLogEntry>(_ lowercased: UnsafeRawBufferPointer, _ entry: Entry) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        for field in entry.fields {
            let name = field.name.bytes(in: entry.requestBuffer)
            if name.count == lowercased.count,
               zip(name, lowercased).allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0) == $1 }) {
                found = field.value.bytes(in: entry.requestBuffer)
            }
        }
        return found
    }

    /// A header as the WSGI environ holds it: repeated fields joined with "," (gunicorn takes
    /// `a`, `f` and `{HTTP_*}e` from there). `cgiName` matches `user_agent` to User-Agent.
    private func joinedHeader<Entry: AccessLogEntry>(_ lowercased: StaticString, _ entry: Entry, to out: inout [UInt8]) {
        joinedHeader(name: UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount),
                     cgiStyle: false, entry, to: &out)
    }

    private func joinedHeader<Entry: AccessLogEntry>(cgiName: UnsafeRawBufferPointer, _ entry: Entry, to out: inout [UInt8]) {
        joinedHeader(name: cgiName, cgiStyle: true, entry, to: &out)
    }

    private func joinedHeader<Entry: AccessLogEntry>(name wanted: UnsafeRawBufferPointer, cgiStyle: Bool,
                                                     _ entry: Entry, to out: inout [UInt8]) {
        var found = false
        for field in entry.fields {
            let name = field.name.bytes(in: entry.requestBuffer)
            guard name.count == wanted.count, zip(name, wanted).allSatisfy({ n, c in
                let lower = n >= 0x41 && n <= 0x5A ? n | 0x20 : n
                return lower == c || (cgiStyle && n == UInt8(ascii: "-") && c == UInt8(ascii: "_"))
            }) else { continue }
            if found { out.append(UInt8(ascii: ",")) }
            escaped(field.value.bytes(in: entry.requestBuffer), to: &out)
            found = true
        }
        if !found { out.append(UInt8(ascii: "-")) }
    }
}

/// Standard base64 decoding into a buffer, for Basic credentials.
enum Base64 {
    static func decode(_ input: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) -> Bool {
        var accumulator: UInt32 = 0
        var bits = 0
        for c in input {
            let value: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(c - 48 + 52)
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="): continue
            case 0x20, 0x09: continue
            default: return false
            }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return true
    }
}
