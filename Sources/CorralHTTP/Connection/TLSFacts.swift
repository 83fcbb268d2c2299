/// What a connection's TLS handshake established, as the app sees it: mod_ssl's variables in a
/// WSGI environ (SSL_PROTOCOL, SSL_CIPHER, SSL_CLIENT_*), ASGI's `tls` extension. The bytes live
/// as long as the connection.
public struct TLSFacts {
    /// "TLSv1.3", "TLSv1.2".
    public var version: UnsafeRawBufferPointer
    /// OpenSSL's name of the cipher suite ("TLS_AES_128_GCM_SHA256").
    public var cipher: UnsafeRawBufferPointer
    /// The protocol version's number (0x0304 for TLS 1.3), as ASGI's `tls_version`.
    public var versionNumber: Int
    /// The cipher suite's IANA number (0x1301), as ASGI's `cipher_suite`.
    public var cipherSuite: Int
    /// The client's verified certificate (PEM) and its subject (RFC 4514, mod_ssl's
    /// SSL_CLIENT_S_DN); nil when the client sent none.
    public var clientCertificate: (pem: UnsafeRawBufferPointer, subject: UnsafeRawBufferPointer)?

    public init(version: UnsafeRawBufferPointer, cipher: UnsafeRawBufferPointer, versionNumber: Int, cipherSuite: Int,
                clientCertificate: (pem: UnsafeRawBufferPointer, subject: UnsafeRawBufferPointer)?) {
        self.version = version
        self.cipher = cipher
        self.versionNumber = versionNumber
        self.cipherSuite = cipherSuite
        self.clientCertificate = clientCertificate
    }
}
