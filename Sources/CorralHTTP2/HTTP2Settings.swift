/// gunicorn's HTTP/2 settings, names and defaults (gunicorn 25+): which protocols a TLS listener
/// offers in ALPN, in order (`http_protocols`), and the SETTINGS a worker announces.
public struct HTTP2Settings: Equatable, Sendable {
    public enum WireProtocol: String, Sendable {
        case h1, h2

        /// Its ALPN name.
        public var alpn: String { self == .h2 ? "h2" : "http/1.1" }
    }

    /// `http_protocols`: "h1" (default), "h2,h1", "h2"… in ALPN preference order.
    public var protocols: [WireProtocol] = [.h1]
    public var maxConcurrentStreams = 100
    public var initialWindowSize = 65535
    public var maxFrameSize = 16384
    public var maxHeaderListSize = 65536
    /// `http2_cleartext`: h2c on plain listeners, for trusted peers.
    public var cleartext = HTTP2Cleartext.off

    public init() {}

    /// gunicorn's comma-separated form ("h2,h1"; "http/1.1" and "h2" as ALPN spells them too).
    public init(protocols text: String) throws(HTTP2SettingError) {
        var protocols: [WireProtocol] = []
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: " ").lowercased() }) where !word.isEmpty {
            guard let chosen = word == "http/1.1" ? .h1 : WireProtocol(rawValue: word) else {
                throw HTTP2SettingError("http_protocols: \"\(word)\" is not h1 or h2 (e.g. \"h2,h1\")")
            }
            if !protocols.contains(chosen) { protocols.append(chosen) }
        }
        guard !protocols.isEmpty else { throw HTTP2SettingError("http_protocols is empty: give h1, h2 or both (\"h2,h1\")") }
        self.protocols = protocols
    }

    public var speaksHTTP2: Bool { protocols.contains(.h2) }

    /// What is out of range (RFC 9113 §6.5.2), or nil.
    public var problem: String? {
        if !(1...(1 << 31 - 1)).contains(initialWindowSize) { return "http2_initial_window_size must be from 1 to 2147483647" }
        if !(16384...16_777_215).contains(maxFrameSize) { return "http2_max_frame_size must be from 16384 to 16777215" }
        if maxConcurrentStreams < 1 { return "http2_max_concurrent_streams must be at least 1" }
        if maxHeaderListSize < 1024 { return "http2_max_header_list_size must be at least 1024" }
        return nil
    }
}

public struct HTTP2SettingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
