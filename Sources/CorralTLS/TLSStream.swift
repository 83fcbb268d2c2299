import CTLS
import Glibc

/// TLS on one accepted, non-blocking socket: OpenSSL reads and writes the socket itself (so
/// kTLS can take over sending), and each call reports what it needs to go on. The handshake
/// happens inside the first reads. A value type over the SSL object, which `end` frees.
public struct TLSStream {
    /// What a read or write did when it moved no bytes.
    public enum Stall: Error, Equatable {
        /// Nothing until the socket is readable (or, `wantsWrite`, writable).
        case wouldBlock(wantsWrite: Bool)
        /// The client closed the connection (close_notify, or a plain EOF when ragged EOFs are suppressed).
        case closed
        /// The connection is unusable: a failed handshake, a bad record, a broken socket.
        case failed(Failure)
    }

    public enum Failure: Equatable {
        /// The client spoke plain HTTP to this TLS port (it can be told so, in plain HTTP).
        case plainHTTP
        case other(String)
    }

    private let ssl: OpaquePointer
    /// After a fatal error OpenSSL forbids sending close_notify.
    private var broken = false

    public init?(context: TLSContext, fd: Int32) {
        guard let ssl = SSL_new(context.context) else { return nil }
        guard SSL_set_fd(ssl, fd) == 1 else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_accept_state(ssl)
        self.ssl = ssl
    }

    /// Decrypted bytes into `buffer`: a count > 0, or why there are none.
    public mutating func read(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Result<Int, Stall> {
        let n = SSL_read(ssl, buffer, Int32(clamping: count))
        if n > 0 { return .success(Int(n)) }
        return .failure(stall(n))
    }

    /// Encrypts and sends from `bytes`: how many were taken (> 0), or why none were.
    public mutating func write(_ bytes: UnsafeRawPointer, _ count: Int) -> Result<Int, Stall> {
        let n = SSL_write(ssl, bytes, Int32(clamping: count))
        if n > 0 { return .success(Int(n)) }
        return .failure(stall(n))
    }

    /// Whether the client and this server agreed on HTTP/2 (ALPN "h2").
    public var choseHTTP2: Bool {
        var name: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &name, &length)
        return length == 2 && name?[0] == UInt8(ascii: "h") && name?[1] == UInt8(ascii: "2")
    }

    /// Whether kTLS took over sending, so `sendFile` goes straight from the page cache.
    public var kernelSends: Bool { corral_ssl_kernel_sends(ssl) != 0 }

    /// Sends part of a file through kTLS (only when `kernelSends`).
    public mutating func sendFile(_ file: Int32, offset: Int, count: Int) -> Result<Int, Stall> {
        let n = SSL_sendfile(ssl, file, off_t(offset), count, 0)
        if n > 0 { return .success(n) }
        return .failure(stall(Int32(n)))
    }

    /// The protocol version and cipher the handshake agreed ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    /// as OpenSSL's own constant strings (nothing is copied), with their numbers.
    public var negotiated: TLSParameters {
        let cipher = SSL_get_current_cipher(ssl)
        return TLSParameters(version: Self.bytes(SSL_get_version(ssl)), cipher: Self.bytes(cipher.flatMap { SSL_CIPHER_get_name($0) }),
                             versionNumber: Int(SSL_version(ssl)), cipherSuite: cipher.map { Int(SSL_CIPHER_get_protocol_id($0)) } ?? 0)
    }

    /// The client's certificate, verified against ca_certs in the handshake: PEM and subject
    /// (RFC 4514); nil when it sent none. Made on demand (once per connection by the caller).
    public var clientCertificate: (pem: [UInt8], subject: [UInt8])? {
        guard let certificate = SSL_get0_peer_certificate(ssl), let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509(bio, certificate) == 1 else { return nil }
        let pem = Self.drain(bio)
        guard X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, corral_xn_flag_rfc2253) >= 0 else { return nil }
        return (pem, Self.drain(bio))
    }

    private static func drain(_ bio: OpaquePointer) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = BIO_read(bio, &chunk, Int32(chunk.count))
            if n <= 0 { return bytes }
            bytes += chunk[..<Int(n)]
        }
    }

    private static func bytes(_ text: UnsafePointer<CChar>?) -> UnsafeRawBufferPointer {
        guard let text else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: text, count: strlen(text))
    }

    /// Ends the connection's TLS: one try at sending close_notify (never waiting), then frees
    /// the session. The caller closes the socket.
    public mutating func end() {
        if !broken && SSL_is_init_finished(ssl) == 1 { _ = SSL_shutdown(ssl) }
        ERR_clear_error()
        SSL_free(ssl)
    }

    private mutating func stall(_ result: Int32) -> Stall {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ: return .wouldBlock(wantsWrite: false)
        case SSL_ERROR_WANT_WRITE: return .wouldBlock(wantsWrite: true)
        case SSL_ERROR_ZERO_RETURN: return .closed
        case SSL_ERROR_SYSCALL:
            broken = true
            let reason = errno == 0 ? "the client closed the connection without close_notify" : String(cString: strerror(errno))
            _ = TLSError.openSSLReasons()
            return errno == 0 || errno == ECONNRESET ? .closed : .failed(.other(reason))
        default:
            broken = true
            let first = ERR_peek_error()
            let plainHTTP = corral_err_reason(first) == corral_ssl_r_http_request
            let reasons = TLSError.openSSLReasons()
            return .failed(plainHTTP ? .plainHTTP : .other(reasons.isEmpty ? "TLS error \(code)" : reasons))
        }
    }
}

/// What a connection's handshake agreed, in mod_ssl's terms (SSL_PROTOCOL, SSL_CIPHER); the
/// bytes are OpenSSL's static strings.
public struct TLSParameters {
    public let version: UnsafeRawBufferPointer
    public let cipher: UnsafeRawBufferPointer
    public let versionNumber: Int
    public let cipherSuite: Int
}
