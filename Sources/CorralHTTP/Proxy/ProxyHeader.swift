import Glibc

/// The PROXY protocol header (HAProxy's, versions 1 and 2) a load balancer sends before the first
/// request on a connection: who the client really is. Parsed from the first bytes read, without
/// allocation; resumable in the sense that `.incomplete` asks for more bytes and the caller asks
/// again with the same bytes plus the new ones.
public enum ProxyHeader: Equatable, Sendable {
    /// The client's address and port (TCP over IPv4 or IPv6).
    case inet(ProxyAddress)
    /// The client came over a unix socket to the balancer: no address, as for a unix peer here.
    case unix
    /// LOCAL (v2) or UNKNOWN (v1): the balancer speaking for itself (a health check). The
    /// socket's peer stays the remote address.
    case local

    public enum Parse: Equatable, Sendable {
        /// A header of `length` bytes; the request starts after it.
        case complete(ProxyHeader, length: Int)
        /// No header: the bytes are not PROXY protocol (a plain HTTP request).
        case absent
        /// Could be a header: more bytes are needed.
        case incomplete
        case failed(reason: String)
    }

    /// v1's longest line, CRLF included (the specification's figure).
    public static let maximumV1Length = 107
    /// A v2 header's longest accepted length: the addresses and TLVs HAProxy sends fit easily.
    public static let maximumV2Length = 16 + 1024

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    private static let v1Prefix: [UInt8] = Array("PROXY ".utf8)

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Parse {
        if startsWith(bytes, v2Signature) { return bytes.count < v2Signature.count ? .incomplete : parseV2(bytes) }
        if startsWith(bytes, v1Prefix) { return bytes.count < v1Prefix.count ? .incomplete : parseV1(bytes) }
        return .absent
    }

    /// Whether `bytes` and `prefix` agree on their common length.
    private static func startsWith(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        for index in 0..<min(bytes.count, prefix.count) where bytes[index] != prefix[index] { return false }
        return !bytes.isEmpty
    }

    // MARK: Version 2 (binary)

    private static func parseV2(_ b: UnsafeRawBufferPointer) -> Parse {
        guard b.count >= 16 else { return .incomplete }
        let versionCommand = b[12], family = b[13]
        let length = Int(b[14]) << 8 | Int(b[15])
        guard versionCommand >> 4 == 2 else { return .failed(reason: "PROXY v2: unknown version") }
        guard 16 + length <= maximumV2Length else { return .failed(reason: "PROXY v2: header too long") }
        guard b.count >= 16 + length else { return .incomplete }
        switch versionCommand & 0x0F {
        case 0x0: return .complete(.local, length: 16 + length)
        case 0x1: break
        default: return .failed(reason: "PROXY v2: unknown command")
        }
        let body = UnsafeRawBufferPointer(rebasing: b[16..<(16 + length)])
        switch family {
        case 0x11:  // TCP over IPv4: source, destination, source port, destination port
            guard length >= 12 else { return .failed(reason: "PROXY v2: truncated IPv4 addresses") }
            return .complete(.inet(ProxyAddress(ipv4: body, port: port(body, at: 8))), length: 16 + length)
        case 0x21:  // TCP over IPv6
            guard length >= 36 else { return .failed(reason: "PROXY v2: truncated IPv6 addresses") }
            return .complete(.inet(ProxyAddress(ipv6: body, port: port(body, at: 32))), length: 16 + length)
        case 0x31:  // unix stream
            guard length >= 216 else { return .failed(reason: "PROXY v2: truncated unix addresses") }
            return .complete(.unix, length: 16 + length)
        case 0x00:  // UNSPEC with PROXY: the receiver must ignore the addresses
            return .complete(.local, length: 16 + length)
        default:
            return .failed(reason: "PROXY v2: not a stream protocol")
        }
    }

    private static func port(_ b: UnsafeRawBufferPointer, at offset: Int) -> UInt16 {
        UInt16(b[offset]) << 8 | UInt16(b[offset + 1])
    }

    // MARK: Version 1 (text)

    /// `PROXY TCP4|TCP6 source destination sport dport\r\n` or `PROXY UNKNOWN …\r\n`.
    private static func parseV1(_ b: UnsafeRawBufferPointer) -> Parse {
        var end = -1
        for index in 0..<min(b.count, maximumV1Length) where b[index] == 0x0A {
            end = index
            break
        }
        if end < 0 { return b.count >= maximumV1Length ? .failed(reason: "PROXY v1: line too long") : .incomplete }
        guard end >= 1, b[end - 1] == 0x0D else { return .failed(reason: "PROXY v1: line not ended by CRLF") }
        let line = UnsafeRawBufferPointer(rebasing: b[6..<(end - 1)])
        var words: (ByteRange, ByteRange, ByteRange, ByteRange, ByteRange) = (.empty, .empty, .empty, .empty, .empty)
        var count = 0, start = 0
        for index in 0...line.count {
            guard index == line.count || line[index] == 0x20 else { continue }
            let word = ByteRange(start: start, count: index - start)
            if word.isEmpty && index < line.count { return .failed(reason: "PROXY v1: malformed line") }
            switch count {
            case 0: words.0 = word
            case 1: words.1 = word
            case 2: words.2 = word
            case 3: words.3 = word
            case 4: words.4 = word
            default: break
            }
            count += 1
            start = index + 1
        }
        let length = end + 1
        let proto = words.0.bytes(in: line)
        if proto.elementsEqual("UNKNOWN".utf8) { return .complete(.local, length: length) }
        let isV4 = proto.elementsEqual("TCP4".utf8), isV6 = proto.elementsEqual("TCP6".utf8)
        guard isV4 || isV6 else { return .failed(reason: "PROXY v1: unknown protocol") }
        guard count == 5 else { return .failed(reason: "PROXY v1: malformed line") }
        guard let source = ProxyAddress(text: words.1.bytes(in: line), ipv6: isV6),
              ProxyAddress(text: words.2.bytes(in: line), ipv6: isV6) != nil else {
            return .failed(reason: "PROXY v1: invalid address")
        }
        guard let sourcePort = decimalPort(words.3.bytes(in: line)), decimalPort(words.4.bytes(in: line)) != nil else {
            return .failed(reason: "PROXY v1: invalid port")
        }
        var address = source
        address.port = sourcePort
        return .complete(.inet(address), length: length)
    }

    /// A port: 1 to 5 digits, 0…65535, no leading zero (the specification's form).
    private static func decimalPort(_ b: UnsafeRawBufferPointer) -> UInt16? {
        guard (1...5).contains(b.count), b[0] != 0x30 || b.count == 1, let value = HTTPGrammar.parseDecimal(b),
              value <= 65535 else { return nil }
        return UInt16(value)
    }
}

/// An IPv4 or IPv6 address and port as a PROXY header carries it, in network byte order.
public struct ProxyAddress: Equatable, Sendable {
    public var isIPv6: Bool
    /// 4 or 16 bytes used.
    public var bytes: (UInt64, UInt64) = (0, 0)
    public var port: UInt16

    init(ipv4 b: UnsafeRawBufferPointer, port: UInt16) {
        self.init(ipv4: b.loadUnaligned(as: UInt32.self), port: port)
    }

    init(ipv6 b: UnsafeRawBufferPointer, port: UInt16) {
        isIPv6 = true
        bytes = (b.loadUnaligned(fromByteOffset: 0, as: UInt64.self), b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        self.port = port
    }

    /// The address accept() reported; nil for a unix socket. An IPv4-mapped IPv6 address (a `[::]`
    /// listener's IPv4 client) is its IPv4 address.
    public init?(socketAddress: UnsafePointer<sockaddr_storage>) {
        switch Int32(socketAddress.pointee.ss_family) {
        case AF_INET:
            let inet = UnsafeRawPointer(socketAddress).load(as: sockaddr_in.self)
            self.init(ipv4: inet.sin_addr.s_addr, port: UInt16(bigEndian: inet.sin_port))
        case AF_INET6:
            let inet6 = UnsafeRawPointer(socketAddress).load(as: sockaddr_in6.self)
            let port = UInt16(bigEndian: inet6.sin6_port)
            let address = withUnsafeBytes(of: inet6.sin6_addr) { Array($0) }
            if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF {
                self.init(ipv4: address[12...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }, port: port)
            } else {
                self = address.withUnsafeBytes { ProxyAddress(ipv6: $0, port: port) }
            }
        default:
            return nil
        }
    }

    private init(ipv4 networkOrder: UInt32, port: UInt16) {
        isIPv6 = false
        bytes.0 = UInt64(networkOrder)
        self.port = port
    }

    /// v1's text form, by inet_pton's rules (dotted quad; RFC 4291 text for IPv6).
    init?(text: UnsafeRawBufferPointer, ipv6: Bool) {
        guard text.count < 46 else { return nil }
        var parsed: (UInt64, UInt64) = (0, 0)
        let ok = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 48) { cString in
            for index in 0..<text.count { cString[index] = CChar(bitPattern: text[index]) }
            cString[text.count] = 0
            return withUnsafeMutableBytes(of: &parsed) { inet_pton(ipv6 ? AF_INET6 : AF_INET, cString.baseAddress!, $0.baseAddress!) == 1 }
        }
        guard ok else { return nil }
        isIPv6 = ipv6
        bytes = parsed
        port = 0
    }

    /// The address as text (inet_ntop) into `out`; the number of bytes written.
    public func format(into out: UnsafeMutableRawBufferPointer) -> Int {
        withUnsafeBytes(of: bytes) { raw in
            guard inet_ntop(isIPv6 ? AF_INET6 : AF_INET, raw.baseAddress!, out.baseAddress!.assumingMemoryBound(to: CChar.self),
                            socklen_t(out.count)) != nil else { return 0 }
            var length = 0
            while length < out.count && out[length] != 0 { length += 1 }
            return length
        }
    }

    public static func == (a: ProxyAddress, b: ProxyAddress) -> Bool {
        a.isIPv6 == b.isIPv6 && a.bytes == b.bytes && a.port == b.port
    }
}
