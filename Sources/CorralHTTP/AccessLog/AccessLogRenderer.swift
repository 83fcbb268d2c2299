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
        usesTime = format.usesTime
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

    /// `u`: the user name of `Authorization: Basic base64(user:password)`, or `-`.
    private func appendUser<Entry: AccessLogEntry>(_ entry: Entry, to out: inout [UInt8]) {
        let start = out.count
        if Self.appendBasicUser(entry, to: &out) {
            escapeInPlace(from: start, in: &out)
        } else {
            out.removeSubrange(start...)
            out.append(UInt8(ascii: "-"))
        }
    }

    /// gunicorn's `_get_user`, byte for byte: it reads HTTP_AUTHORIZATION (repeated fields joined
    /// with ","), requires the lowercased value to start with "basic" (so "Basicx" passes too),
    /// base64-decodes what follows the first space as `base64.b64decode` does (characters outside
    /// the alphabet skipped, "Incorrect padding" fails), keeps what precedes the first ':', and
    /// gives up on invalid UTF-8 or an empty name. Decodes into `out` (the password too, briefly):
    /// no allocation. Returns false to render `-`.
    private static func appendBasicUser<Entry: AccessLogEntry>(_ entry: Entry, to out: inout [UInt8]) -> Bool {
        let start = out.count
        let buffer = entry.requestBuffer
        var seenFirst = false
        var decoding = false
        var decoder = Base64Decoder()
        for field in entry.fields where field.name.bytes(in: buffer).equalsLowercased("authorization") {
            let value = field.value.bytes(in: buffer)
            if !seenFirst {
                // The joined value starts with the first field: a shorter one is followed by ','.
                guard value.count >= 5, UnsafeRawBufferPointer(rebasing: value[..<5]).equalsLowercased("basic") else {
                    return false
                }
                seenFirst = true
            }
            // Index loops: a slice's generic iterator boxes every byte in unoptimized builds.
            var index = 0
            if !decoding {
                // The joining ',' is no space: the split point may only be in a later field.
                while index < value.count && value[index] != 0x20 { index += 1 }
                guard index < value.count else { continue }
                index += 1
                decoding = true
            }
            while index < value.count {
                decoder.feed(value[index], into: &out)
                index += 1
            }
        }
        guard decoding, decoder.isComplete else { return false }
        var end = start
        while end < out.count && out[end] != UInt8(ascii: ":") { end += 1 }
        out.removeLast(out.count - end)
        guard out.count > start else { return false }
        return out.withUnsafeBufferPointer { all in
            !transcode(UnsafeBufferPointer(rebasing: all[start...]).makeIterator(), from: UTF8.self, to: UTF32.self,
                       stoppingOnError: true, into: { _ in })
        }
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
            } else if key.equalsLowercased("remote_port") {
                if entry.remotePort >= 0 { ResponseHead.appendDecimal(Int(entry.remotePort), to: &out) } else { out.append(UInt8(ascii: "-")) }
            } else if key.equalsLowercased("wsgi.url_scheme") {
                ResponseHead.append(entry.isSecure() ? "https" : "http", to: &out)
            } else if key.equalsLowercased("content_type") {
                // gunicorn files these two under CONTENT_*, not HTTP_* (the last field wins).
                value(Self.header("content-type", entry), to: &out)
            } else if key.equalsLowercased("content_length") {
                value(Self.header("content-length", entry), to: &out)
            } else if key.count > 5, UnsafeRawBufferPointer(rebasing: key[..<5]).equalsLowercased("http_") {
                let cgiName = UnsafeRawBufferPointer(rebasing: key[5...])
                if cgiName.equalsLowercased("content_type") || cgiName.equalsLowercased("content_length") {
                    out.append(UInt8(ascii: "-"))
                } else {
                    joinedHeader(cgiName: cgiName, entry, to: &out)
                }
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
        Self.twoDigits(Int(parts.tm_mday), &timeText)
        timeText.append(UInt8(ascii: "/"))
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        timeText.append(contentsOf: UnsafeRawBufferPointer(start: months.utf8Start + Int(parts.tm_mon) * 3, count: 3))
        timeText.append(UInt8(ascii: "/"))
        ResponseHead.appendDecimal(Int(parts.tm_year) + 1900, to: &timeText)
        timeText.append(UInt8(ascii: ":"))
        Self.twoDigits(Int(parts.tm_hour), &timeText)
        timeText.append(UInt8(ascii: ":"))
        Self.twoDigits(Int(parts.tm_min), &timeText)
        timeText.append(UInt8(ascii: ":"))
        Self.twoDigits(Int(parts.tm_sec), &timeText)
        timeText.append(0x20)
        let offset = parts.tm_gmtoff
        timeText.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        Self.twoDigits(Int(abs(offset) / 3600), &timeText)
        Self.twoDigits(Int(abs(offset) / 60 % 60), &timeText)
        timeText.append(UInt8(ascii: "]"))
    }

    /// Static: a method on `self` would pass a copy of `self` (holding `timeText`) alongside
    /// `&timeText`, and the append would copy the buffer (6 allocations a second, seen in -Onone).
    private static func twoDigits(_ value: Int, _ out: inout [UInt8]) {
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

    /// Escapes the bytes appended since `start` (used after decoding straight into `out`): grows
    /// `out` by what the escapes need and moves the bytes back to front, without a scratch copy.
    private func escapeInPlace(from start: Int, in out: inout [UInt8]) {
        var extra = 0
        for index in start..<out.count {
            let byte = out[index]
            if byte == UInt8(ascii: "\"") {
                extra += 1
            } else if Self.needsEscape(byte) {
                extra += 3
            }
        }
        guard extra > 0 else { return }
        let end = out.count
        for _ in 0..<extra { out.append(0) }
        out.withUnsafeMutableBufferPointer { bytes in
            let hex: StaticString = "0123456789abcdef"
            var write = bytes.count
            var read = end
            while read > start {
                read -= 1
                let byte = bytes[read]
                if byte == UInt8(ascii: "\"") {
                    write -= 2
                    bytes[write] = UInt8(ascii: "\\")
                    bytes[write + 1] = byte
                } else if Self.needsEscape(byte) {
                    write -= 4
                    bytes[write] = UInt8(ascii: "\\")
                    bytes[write + 1] = UInt8(ascii: "x")
                    bytes[write + 2] = hex.utf8Start[Int(byte >> 4)]
                    bytes[write + 3] = hex.utf8Start[Int(byte & 0xF)]
                } else {
                    write -= 1
                    bytes[write] = byte
                }
            }
        }
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

/// Base64 decoding as Python's `binascii.a2b_base64` in its default, non-strict mode (what
/// `base64.b64decode` uses): bytes outside the alphabet are skipped, a '=' after at least two
/// characters of a quad ends the input once the quad is padded, and input that stops inside a
/// quad is "Incorrect padding". Fed one byte at a time so a value split over fields decodes.
struct Base64Decoder {
    private var quadPosition = 0
    private var leftover: UInt8 = 0
    private var pads = 0
    private var finished = false

    /// Whether the input so far decodes without error.
    var isComplete: Bool { finished || quadPosition == 0 }

    mutating func feed(_ c: UInt8, into out: inout [UInt8]) {
        guard !finished else { return }
        if c == UInt8(ascii: "=") {
            if quadPosition >= 2 {
                pads += 1
                if quadPosition + pads >= 4 { finished = true }
            }
            return
        }
        let value: UInt8
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c &- 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c &- 71
        case UInt8(ascii: "0")...UInt8(ascii: "9"): value = c &+ 4
        case UInt8(ascii: "+"): value = 62
        case UInt8(ascii: "/"): value = 63
        default: return
        }
        switch quadPosition {
        case 0:
            leftover = value
        case 1:
            out.append(leftover << 2 | value >> 4)
            leftover = value & 0x0F
        case 2:
            out.append(leftover << 4 | value >> 2)
            leftover = value & 0x03
        default:
            out.append(leftover << 6 | value)
            leftover = 0
        }
        quadPosition = (quadPosition + 1) & 3
    }
}
