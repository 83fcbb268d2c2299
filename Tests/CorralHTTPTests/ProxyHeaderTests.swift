import CorralHTTP
import Glibc
import Testing

/// The PROXY protocol header, v1 and v2, parsed from bytes as the first read delivers them.
@Suite struct ProxyHeaderTests {
    static func parse(_ bytes: [UInt8]) -> ProxyHeader.Parse {
        bytes.withUnsafeBytes { ProxyHeader.parse($0) }
    }

    static func client(_ parse: ProxyHeader.Parse) -> (String, UInt16)? {
        guard case .complete(.inet(let address), _) = parse else { return nil }
        var text = [UInt8](repeating: 0, count: 48)
        let count = text.withUnsafeMutableBytes { address.format(into: $0) }
        return (String(decoding: text[..<count], as: UTF8.self), address.port)
    }

    static let request = Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)

    static func v2(command: UInt8 = 0x21, family: UInt8, _ body: [UInt8]) -> [UInt8] {
        [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, command, family,
         UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    @Test func v1TCP4NamesTheClientAndEndsAtItsCRLF() throws {
        let header = Array("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n".utf8)
        let parsed = Self.parse(header + Self.request)
        #expect(Self.client(parsed)! == ("203.0.113.7", 56324))
        guard case .complete(_, let length) = parsed else { Issue.record("\(parsed)"); return }
        #expect(length == header.count)
    }

    @Test func v1TCP6AndUnknown() {
        let v6 = Self.parse(Array("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n".utf8))
        #expect(Self.client(v6)! == ("2001:db8::1", 4000))
        #expect(Self.parse(Array("PROXY UNKNOWN\r\n".utf8)) == .complete(.local, length: 15))
        #expect(Self.parse(Array("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".utf8)) == .complete(.local, length: 35))
    }

    @Test(arguments: [
        "PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n",         // a port missing
        "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443 9\r\n",   // a word too many
        "PROXY TCP4 203.0.113.777 10.0.0.1 1 2\r\n",          // not an address
        "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",            // IPv6 under TCP4
        "PROXY TCP6 10.0.0.1 10.0.0.2 1 2\r\n",               // IPv4 under TCP6
        "PROXY TCP4 10.0.0.1 10.0.0.2 65536 2\r\n",           // port out of range
        "PROXY TCP4 10.0.0.1 10.0.0.2 01 2\r\n",              // leading zero
        "PROXY TCP4  10.0.0.1 10.0.0.2 1 2\r\n",              // two spaces
        "PROXY UDP4 10.0.0.1 10.0.0.2 1 2\r\n",               // not TCP
        "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\n",                 // bare LF
    ])
    func malformedV1IsRefused(_ line: String) {
        guard case .failed = Self.parse(Array(line.utf8)) else {
            Issue.record("accepted: \(line.debugDescription)")
            return
        }
    }

    @Test func oversizedV1IsRefusedBeforeItsEnd() {
        let long = Array(("PROXY TCP4 " + String(repeating: "1", count: 120)).utf8)
        #expect(Self.parse(long) == .failed(reason: "PROXY v1: line too long"))
    }

    @Test func v2TCP4AndTCP6WithTLVsIgnored() {
        let tcp4 = Self.v2(family: 0x11, [203, 0, 113, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB] + [0x04, 0x00, 0x01, 0x00])
        #expect(Self.client(Self.parse(tcp4 + Self.request))! == ("203.0.113.7", 56324))
        guard case .complete(_, let length) = Self.parse(tcp4 + Self.request) else { return }
        #expect(length == tcp4.count)
        var source: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x05]
        source += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x06]
        let tcp6 = Self.v2(family: 0x21, source + [0x1F, 0x90, 0x00, 0x50])
        #expect(Self.client(Self.parse(tcp6))! == ("2001:db8::5", 8080))
    }

    @Test func v2UnixAndLocal() {
        #expect(Self.parse(Self.v2(family: 0x31, [UInt8](repeating: 0, count: 216))) == .complete(.unix, length: 232))
        #expect(Self.parse(Self.v2(command: 0x20, family: 0x00, [])) == .complete(.local, length: 16))
        // LOCAL with addresses: they are skipped, the socket's peer stays.
        #expect(Self.parse(Self.v2(command: 0x20, family: 0x11, [UInt8](repeating: 1, count: 12))) == .complete(.local, length: 28))
    }

    @Test func v2MalformedAndOversized() {
        #expect(Self.parse(Self.v2(command: 0x11, family: 0x11, [UInt8](repeating: 0, count: 12))) == .failed(reason: "PROXY v2: unknown version"))
        #expect(Self.parse(Self.v2(command: 0x22, family: 0x11, [UInt8](repeating: 0, count: 12))) == .failed(reason: "PROXY v2: unknown command"))
        #expect(Self.parse(Self.v2(family: 0x11, [UInt8](repeating: 0, count: 8))) == .failed(reason: "PROXY v2: truncated IPv4 addresses"))
        #expect(Self.parse(Self.v2(family: 0x12, [UInt8](repeating: 0, count: 12))) == .failed(reason: "PROXY v2: not a stream protocol"))
        let huge = Self.v2(family: 0x11, [UInt8](repeating: 0, count: 2000))
        #expect(Self.parse(Array(huge.prefix(16))) == .failed(reason: "PROXY v2: header too long"))
    }

    @Test func everyPrefixOfAHeaderIsIncomplete() {
        let headers = [
            Array("PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n".utf8),
            Self.v2(family: 0x11, [203, 0, 113, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB]),
        ]
        for header in headers {
            for end in 1..<header.count {
                #expect(Self.parse(Array(header[..<end])) == .incomplete, "\(end) of \(header.count) bytes")
            }
        }
    }

    @Test func aPlainRequestHasNoHeader() {
        #expect(Self.parse(Self.request) == .absent)
        #expect(Self.parse(Array("PROXZ".utf8)) == .absent)
        #expect(Self.parse(Array("\r\n\r\nX".utf8)) == .absent)  // not the v2 signature
        #expect(Self.parse([]) == .absent)
    }
}

@Suite struct AddressAllowListTests {
    static func allows(_ list: AddressAllowList, _ address: String) -> Bool {
        Array(address.utf8).withUnsafeBytes { list.allows($0) }
    }

    @Test func addressesNetworksAndEveryone() throws {
        let list = try AddressAllowList("127.0.0.1, ::1 ,10.1.0.0/16, fd00::/8")
        for (address, allowed) in [("127.0.0.1", true), ("::1", true), ("10.1.2.3", true), ("10.2.0.1", false),
                                   ("::ffff:10.1.9.9", true), ("fd12::1", true), ("fe80::1", false),
                                   ("203.0.113.9", false), ("", true)] {
            #expect(Self.allows(list, address) == allowed, "\(address)")
        }
        #expect(try AddressAllowList("*").allowsAll)
        #expect(!Self.allows(try AddressAllowList(""), "127.0.0.1"))
    }

    @Test func badEntriesAreErrors() {
        for text in ["10.0.0.1/33", "localhost", "10.0.0.0/x", "1.2.3"] {
            #expect(throws: ProxySettingError.self, "\(text)") { try AddressAllowList(text) }
        }
    }
}

@Suite struct PeerAddressTests {
    static func peer(_ fill: (UnsafeMutablePointer<sockaddr_storage>) -> Void) -> ProxyAddress? {
        var storage = sockaddr_storage()
        fill(&storage)
        return ProxyAddress(socketAddress: &storage)
    }

    @Test func acceptsAddressesMatchTheListsWithoutText() throws {
        let list = try AddressAllowList("10.1.0.0/16, fd00::/8")
        let v4 = Self.peer { storage in
            UnsafeMutableRawPointer(storage).withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                $0.pointee.sin_family = sa_family_t(AF_INET)
                $0.pointee.sin_addr.s_addr = inet_addr("10.1.2.3")
            }
        }
        #expect(list.allows(v4))
        func v6(_ text: String) -> ProxyAddress? {
            Self.peer { storage in
                UnsafeMutableRawPointer(storage).withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    $0.pointee.sin6_family = sa_family_t(AF_INET6)
                    _ = inet_pton(AF_INET6, text, &$0.pointee.sin6_addr)
                }
            }
        }
        #expect(list.allows(v6("fd12::1")))
        #expect(!list.allows(v6("fe80::1")))
        #expect(list.allows(v6("::ffff:10.1.9.9")), "an IPv4 client of a [::] listener matches as IPv4")
        #expect(!list.allows(v6("::ffff:10.2.9.9")))
        let unix = Self.peer { $0.pointee.ss_family = sa_family_t(AF_UNIX) }
        #expect(unix == nil && list.allows(unix), "a unix peer is trusted, as gunicorn trusts it")
    }
}
