/// gunicorn's TLS settings as a worker applies them (`certfile`, `keyfile`, `ca_certs`,
/// `cert_reqs`, `ciphers`, `suppress_ragged_eofs`), plus the lowest protocol version
/// (`ssl_protocol_min`, granian's name; gunicorn has none). Pure: checked, not loaded.
public struct TLSSettings: Equatable, Sendable {
    /// gunicorn's `cert_reqs`, Python's ssl.CERT_NONE, CERT_OPTIONAL and CERT_REQUIRED.
    public enum ClientCertificates: Int, Sendable {
        case none = 0, optional = 1, required = 2
    }

    public enum ProtocolVersion: String, Sendable, CaseIterable {
        case tls1_2 = "TLSv1.2"
        case tls1_3 = "TLSv1.3"

        /// "TLSv1.2", "tls1.2", "1.2" (and the same for 1.3).
        public init?(name: String) {
            let digits = name.lowercased().drop { !$0.isNumber }
            switch digits {
            case "1.2", "1_2": self = .tls1_2
            case "1.3", "1_3": self = .tls1_3
            default: return nil
            }
        }
    }

    /// AEAD suites with forward secrecy only (Mozilla's "intermediate" list without DHE): what
    /// a TLS 1.2 client may use unless `ciphers` says otherwise. TLS 1.3's suites are all strong
    /// and stay OpenSSL's.
    public static let defaultCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

    public var certfile: String
    /// nil: the key is in `certfile`, after the certificates (as Python's load_cert_chain takes it).
    public var keyfile: String?
    public var caCerts: String?
    public var clientCertificates = ClientCertificates.none
    public var ciphers: String?
    public var minimumVersion = ProtocolVersion.tls1_2
    /// A client that closes without TLS's close_notify is an ordinary end of the connection,
    /// not an error (gunicorn's default).
    public var suppressRaggedEOFs = true
    /// Seconds a session ticket is good for: corrald keeps each ticket key for two rotations
    /// after it stops encrypting (`ssl_ticket_key_rotation`, an hour by default).
    public var ticketLifetime: Double = 2 * 3600
    /// ALPN's protocol names in preference order (`http_protocols`: "h2", "http/1.1").
    public var protocols = ["http/1.1"]

    public init(certfile: String, keyfile: String? = nil) {
        self.certfile = certfile
        self.keyfile = keyfile
    }

    /// What is wrong with these settings as a whole, before any file is read; nil when nothing.
    public var problem: String? {
        if clientCertificates != .none && caCerts == nil {
            return "cert_reqs asks for client certificates but ca_certs is not set: name the CA file that signs them (corral does not verify against nothing)"
        }
        return nil
    }
}
