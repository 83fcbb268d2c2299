import CZlib
import CorralHTTP

/// permessage-deflate (RFC 7692): the negotiation of the client's offers, and each message
/// compressed or inflated whole with zlib. The server's window is 12 bits and zlib's memLevel 5
/// (websockets' and so uvicorn's defaults): about 32 KB per compressing connection rather than
/// 256 KB, made only when the connection first compresses.
public final class PerMessageDeflate {
    public struct Parameters: Equatable, Sendable {
        /// The server resets its compressor after each message.
        public var serverNoContextTakeover = false
        /// The client promised to reset its own (nothing for the server to do but answer it).
        public var clientNoContextTakeover = false
        public var serverMaxWindowBits = PerMessageDeflate.serverWindowBits
        /// What the client may use (15 unless the response lowers it).
        public var clientMaxWindowBits = 15

        /// The Sec-WebSocket-Extensions value that accepts the offer.
        public let responseValue: String

        init(serverNoContextTakeover: Bool, clientNoContextTakeover: Bool, serverMaxWindowBits: Int,
             clientMaxWindowBits: Int, clientWindowNamed: Bool) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
            var value = "permessage-deflate"
            if serverNoContextTakeover { value += "; server_no_context_takeover" }
            if clientNoContextTakeover { value += "; client_no_context_takeover" }
            value += "; server_max_window_bits=\(serverMaxWindowBits)"
            if clientWindowNamed { value += "; client_max_window_bits=\(clientMaxWindowBits)" }
            responseValue = value
        }
    }

    /// The window the server compresses with unless the client asks for a smaller one.
    public static let serverWindowBits = 12

    /// The first offer among Sec-WebSocket-Extensions' items that the server can accept, or nil
    /// (then the conversation goes uncompressed). An offer with an unknown, repeated or invalid
    /// parameter is declined, as the RFC says; so is a server window of 8 bits, which zlib cannot
    /// honour.
    public static func negotiate(_ offers: [String]) -> Parameters? {
        offers: for offer in offers {
            let parts = offer.split(separator: ";").map(\.trimmingWhitespace)
            guard parts.first == "permessage-deflate" else { continue }
            var seen = Set<Substring>()
            var serverNoContext = false, clientNoContext = false
            var serverBits = serverWindowBits, clientBits = 15, clientNamed = false
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                let name = pair[0].trimmingWhitespace[...]
                let value = pair.count > 1 ? String(pair[1].trimmingWhitespace.filter { $0 != "\"" }) : nil
                guard seen.insert(name).inserted else { continue offers }
                switch name {
                case "server_no_context_takeover":
                    guard value == nil else { continue offers }
                    serverNoContext = true
                case "client_no_context_takeover":
                    guard value == nil else { continue offers }
                    clientNoContext = true
                case "server_max_window_bits":
                    guard let bits = value.flatMap({ Int($0) }), (9...15).contains(bits) else { continue offers }
                    serverBits = min(bits, serverWindowBits)
                case "client_max_window_bits":
                    clientNamed = true
                    if let value {
                        guard let bits = Int(value), (8...15).contains(bits) else { continue offers }
                        clientBits = bits
                    }
                default:
                    continue offers
                }
            }
            return Parameters(serverNoContextTakeover: serverNoContext, clientNoContextTakeover: clientNoContext,
                              serverMaxWindowBits: serverBits, clientMaxWindowBits: clientBits, clientWindowNamed: clientNamed)
        }
        return nil
    }

    public enum InflateError: Error, Equatable {
        case tooBig
        case corrupt
    }

    public let parameters: Parameters
    private var deflater: UnsafeMutablePointer<z_stream>?
    private var inflater: UnsafeMutablePointer<z_stream>?
    private static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public init(_ parameters: Parameters) {
        self.parameters = parameters
    }

    deinit {
        if let deflater {
            deflateEnd(deflater)
            deflater.deallocate()
        }
        if let inflater {
            inflateEnd(inflater)
            inflater.deallocate()
        }
    }

    /// Appends `message` compressed to `output`: a sync flush without its last four bytes (§7.2.1).
    public func compress(_ message: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) {
        let stream = deflaterStream()
        var chunk = [UInt8](repeating: 0, count: max(64, message.count / 2 + 64))
        stream.pointee.next_in = UnsafeMutablePointer(mutating: message.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(message.count)
        let start = output.count
        repeat {
            let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                stream.pointee.next_out = buffer.baseAddress
                stream.pointee.avail_out = uInt(buffer.count)
                _ = deflate(stream, Z_SYNC_FLUSH)
                return buffer.count - Int(stream.pointee.avail_out)
            }
            output.append(contentsOf: chunk[..<produced])
        } while stream.pointee.avail_out == 0
        if output.count - start >= 4 && output[(output.count - 4)...].elementsEqual(Self.tail) { output.removeLast(4) }
        if parameters.serverNoContextTakeover { deflateReset(stream) }
    }

    /// The message a compressed one inflates to, at most `limit` bytes (0: no limit).
    public func decompress(_ message: [UInt8], limit: Int) throws(InflateError) -> [UInt8] {
        let stream = inflaterStream()
        var input = message + Self.tail
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var status: Int32 = Z_OK
        try input.withUnsafeMutableBufferPointer { (source: inout UnsafeMutableBufferPointer<UInt8>) throws(InflateError) in
            stream.pointee.next_in = source.baseAddress
            stream.pointee.avail_in = uInt(source.count)
            repeat {
                let produced = chunk.withUnsafeMutableBufferPointer { buffer -> Int in
                    stream.pointee.next_out = buffer.baseAddress
                    stream.pointee.avail_out = uInt(buffer.count)
                    status = inflate(stream, Z_SYNC_FLUSH)
                    return buffer.count - Int(stream.pointee.avail_out)
                }
                guard status == Z_OK || status == Z_STREAM_END || (status == Z_BUF_ERROR && produced == 0) else {
                    inflateReset(stream)
                    throw .corrupt
                }
                output.append(contentsOf: chunk[..<produced])
                guard limit == 0 || output.count <= limit else {
                    inflateReset(stream)
                    throw .tooBig
                }
            } while stream.pointee.avail_in > 0 || stream.pointee.avail_out == 0
        }
        if parameters.clientNoContextTakeover || status == Z_STREAM_END { inflateReset(stream) }
        return output
    }

    private func deflaterStream() -> UnsafeMutablePointer<z_stream> {
        if let deflater { return deflater }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        _ = corral_deflate_init(stream, Z_DEFAULT_COMPRESSION, Int32(parameters.serverMaxWindowBits), 5)
        deflater = stream
        return stream
    }

    private func inflaterStream() -> UnsafeMutablePointer<z_stream> {
        if let inflater { return inflater }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        _ = corral_inflate_init(stream, 15)
        inflater = stream
        return stream
    }
}
