import CTLS
import Glibc

/// One worker's TLS configuration, loaded: the certificate chain and its key (checked to
/// match), the protocol floor, the ciphers, client verification, ALPN. Built once per process
/// (and by corrald to check the files); every connection on a TLS listener starts from it.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    public let settings: TLSSettings

    public init(_ settings: TLSSettings) throws(TLSError) {
        if let problem = settings.problem { throw TLSError(problem) }
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw TLSError.fromOpenSSL("cannot make a TLS context") }
        self.context = context
        self.settings = settings
        var options = corral_ssl_op_no_renegotiation | corral_ssl_op_no_compression
            | corral_ssl_op_cipher_server_preference | corral_ssl_op_enable_ktls
        if settings.suppressRaggedEOFs { options |= corral_ssl_op_ignore_unexpected_eof }
        SSL_CTX_set_options(context, options)
        _ = corral_ssl_ctx_set_mode(context, corral_ssl_mode_for_engine())
        // Whole records in one read() where the socket has them, not a header and then a body.
        _ = corral_ssl_ctx_set_read_ahead(context, 1)
        _ = corral_ssl_ctx_set_min_version(context, settings.minimumVersion == .tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION)
        // Resumption is by session tickets, which any worker can decrypt (TicketKeys); a
        // per-process session cache would only hold memory. A ticket is good while its key is
        // kept: for two rotations after it stops encrypting.
        _ = corral_ssl_ctx_no_session_cache(context)
        _ = corral_ssl_ctx_set_session_lifetime(context, Int(settings.ticketLifetime))
        let ciphers = settings.ciphers ?? TLSSettings.defaultCiphers
        guard SSL_CTX_set_cipher_list(context, ciphers) == 1 else {
            throw TLSError.fromOpenSSL("ciphers \"\(ciphers)\": no cipher OpenSSL knows matches; see `openssl ciphers -v`")
        }
        try Self.checkReadable(settings.certfile, setting: "certfile")
        guard SSL_CTX_use_certificate_chain_file(context, settings.certfile) == 1 else {
            throw TLSError.fromOpenSSL("certfile \(settings.certfile): no PEM certificate could be read from it")
        }
        let keyfile = settings.keyfile ?? settings.certfile
        try Self.checkReadable(keyfile, setting: "keyfile")
        let mismatch = TLSError("keyfile \(keyfile) does not match the certificate in certfile \(settings.certfile): give the key the certificate was issued for")
        guard SSL_CTX_use_PrivateKey_file(context, keyfile, SSL_FILETYPE_PEM) == 1 else {
            let reasons = TLSError.openSSLReasons()
            if reasons.contains("key values mismatch") { throw mismatch }
            throw TLSError("keyfile \(keyfile): no PEM private key could be read from it (OpenSSL: \(reasons))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            _ = TLSError.openSSLReasons()
            throw mismatch
        }
        if let caCerts = settings.caCerts {
            try Self.checkReadable(caCerts, setting: "ca_certs")
            guard SSL_CTX_load_verify_locations(context, caCerts, nil) == 1,
                  let names = SSL_load_client_CA_file(caCerts) else {
                throw TLSError.fromOpenSSL("ca_certs \(caCerts): no PEM CA certificate could be read from it")
            }
            SSL_CTX_set_client_CA_list(context, names)
        }
        switch settings.clientCertificates {
        case .none: SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .optional: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .required: SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
        // Client certificates and resumed sessions must belong to this application.
        let sessionContext: StaticString = "corral"
        _ = SSL_CTX_set_session_id_context(context, sessionContext.utf8Start, UInt32(sessionContext.utf8CodeUnitCount))
        SSL_CTX_set_alpn_select_cb(context, selectProtocol, UnsafeMutableRawPointer(mutating: ALPN.wire(settings.protocols).baseAddress))
    }

    deinit {
        SSL_CTX_free(context)
    }

    private static func checkReadable(_ path: String, setting: String) throws(TLSError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TLSError("\(setting) \(path): \(String(cString: strerror(errno)))") }
        close(fd)
    }

    /// The certificate's subject and expiry, for the log line at start.
    public var certificateSummary: String {
        guard let certificate = SSL_CTX_get0_certificate(context) else { return "no certificate" }
        var subject = [CChar](repeating: 0, count: 256)
        X509_NAME_oneline(X509_get_subject_name(certificate), &subject, 256)
        let end = TLSTime.text(X509_get0_notAfter(certificate))
        return "\(String(decoding: subject.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)), valid until \(end)"
    }
}

/// ALPN: the first of this server's protocols (`http_protocols`, in order) the client offers; a
/// client that offers none of them gets none chosen, and speaks HTTP/1.1.
private func selectProtocol(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                            _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                            _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    var selected: UnsafeMutablePointer<UInt8>?
    // The argument: the wire list, after its own length in one byte.
    guard let list = argument?.assumingMemoryBound(to: UInt8.self) else { return SSL_TLSEXT_ERR_NOACK }
    let result = SSL_select_next_proto(&selected, outLength, list + 1, UInt32(list[0]), offered, offeredLength)
    guard result == OPENSSL_NPN_NEGOTIATED, let selected else { return SSL_TLSEXT_ERR_NOACK }
    out?.pointee = UnsafePointer(selected)
    return SSL_TLSEXT_ERR_OK
}

enum ALPN {
    /// `names` in the wire format (each after its length), preceded by the list's length, in
    /// memory that is never freed: the choice handed back to OpenSSL points into it. A context
    /// lives as long as its process.
    static func wire(_ names: [String]) -> UnsafeBufferPointer<UInt8> {
        var bytes: [UInt8] = []
        for name in names { bytes += [UInt8(name.utf8.count)] + Array(name.utf8) }
        let memory = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count + 1)
        _ = memory.initialize(from: [UInt8(bytes.count)] + bytes)
        return UnsafeBufferPointer(memory)
    }
}

enum TLSTime {
    /// An ASN1_TIME as OpenSSL prints it ("Dec  3 10:00:00 2027 GMT").
    static func text(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        guard ASN1_TIME_print(bio, time) == 1 else { return "?" }
        var bytes = [UInt8](repeating: 0, count: 64)
        let n = BIO_read(bio, &bytes, 64)
        return n > 0 ? String(decoding: bytes[..<Int(n)], as: UTF8.self) : "?"
    }
}
