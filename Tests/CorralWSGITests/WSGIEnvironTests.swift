import CorralHTTP
import CorralWSGI
import Testing

/// Parses `raw` with the engine's parser and builds its environ, as corral-python does.
func environ(_ raw: String, peer: String = "127.0.0.1", settings: WSGISettings? = nil,
             forwarded: ForwardedScheme? = nil) throws -> WSGIEnviron {
    try environ(bytes: Array(raw.utf8), peer: peer, settings: settings, forwarded: forwarded)
}

func environ(bytes: [UInt8], peer: String = "127.0.0.1", settings: WSGISettings? = nil,
             forwarded: ForwardedScheme? = nil, tls: TLSFacts? = nil) throws -> WSGIEnviron {
    let settings = try settings ?? WSGISettings()
    let forwarded = try forwarded ?? ForwardedScheme()
    var parser = RequestParser(limits: HTTPLimits())
    var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
    var result = WSGIEnviron()
    let peerBytes = Array(peer.utf8)
    try bytes.withUnsafeBytes { raw in
        try table.withUnsafeMutableBufferPointer { fields in
            guard case .complete(let head) = parser.parseHead(raw, fields: fields) else {
                throw WSGISettingError("the test request did not parse")
            }
            peerBytes.withUnsafeBytes { peer in
                let requestFields = UnsafeBufferPointer(rebasing: fields[..<head.fieldCount])
                result.build(head: head, buffer: raw, fields: requestFields, remoteAddress: peer, remotePort: 54321,
                             isSecure: tls != nil || forwarded.isSecure(peerTrusted: forwarded.allowList.allows(peer), fields: requestFields, buffer: raw),
                             settings: settings, tls: tls, serverAddress: { ("10.0.0.1", "8000") })
            }
        }
    }
    return result
}

@Suite struct WSGIEnvironTests {
    /// mod_ssl's names on a TLS connection; nothing of them on plain HTTP.
    @Test func tlsConnectionsCarryModSSLVariables() throws {
        let plain = try environ("GET / HTTP/1.1\r\nHost: a\r\n\r\n").pairs
        #expect(!plain.contains { $0.key.hasPrefix("SSL_") || $0.key == "HTTPS" })
        let version = Array("TLSv1.3".utf8), cipher = Array("TLS_AES_128_GCM_SHA256".utf8)
        let pem = Array("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8), subject = Array("CN=client,O=Example".utf8)
        let pairs = try version.withUnsafeBytes { version in
            try cipher.withUnsafeBytes { cipher in
                try pem.withUnsafeBytes { pem in
                    try subject.withUnsafeBytes { subject in
                        try environ(bytes: Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8),
                                    tls: TLSFacts(version: version, cipher: cipher, versionNumber: 0x0304, cipherSuite: 0x1301,
                                                  clientCertificate: (pem, subject))).pairs
                    }
                }
            }
        }
        let values = Dictionary(pairs.map { ($0.key, $0.value) }) { first, _ in first }
        #expect(values["wsgi.url_scheme"] == "https")
        #expect(values["HTTPS"] == "on")
        #expect(values["SSL_PROTOCOL"] == "TLSv1.3")
        #expect(values["SSL_CIPHER"] == "TLS_AES_128_GCM_SHA256")
        #expect(values["SSL_CLIENT_VERIFY"] == "SUCCESS")
        #expect(values["SSL_CLIENT_S_DN"] == "CN=client,O=Example")
        #expect(values["SSL_CLIENT_CERT"]?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)
        #expect(values["SERVER_PORT"] == "443", "no port in Host: the scheme's")
    }

    @Test func basicKeys() throws {
        let env = try environ("GET /hello/world?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent: t\r\n\r\n")
        #expect(env["REQUEST_METHOD"] == "GET")
        #expect(env["SCRIPT_NAME"] == "")
        #expect(env["PATH_INFO"] == "/hello/world")
        #expect(env["QUERY_STRING"] == "x=1&y=%20")
        #expect(env["RAW_URI"] == "/hello/world?x=1&y=%20")
        #expect(env["SERVER_PROTOCOL"] == "HTTP/1.1")
        #expect(env["SERVER_NAME"] == "example.com")
        #expect(env["SERVER_PORT"] == "8080")
        #expect(env["REMOTE_ADDR"] == "127.0.0.1")
        #expect(env["REMOTE_PORT"] == "54321")
        #expect(env["HTTP_HOST"] == "example.com:8080")
        #expect(env["HTTP_USER_AGENT"] == "t")
        #expect(env["wsgi.url_scheme"] == "http")
        #expect(env["CONTENT_TYPE"] == nil)
        #expect(env["CONTENT_LENGTH"] == nil)
        #expect(!env.hasBody)
    }

    @Test func asteriskFormHasAnEmptyPathInfo() throws {
        let env = try environ("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(env["PATH_INFO"] == "")
        #expect(env["RAW_URI"] == "*")
    }

    @Test func queryStringIsEmptyWhenAbsent() throws {
        #expect(try environ("GET / HTTP/1.1\r\nHost: a\r\n\r\n")["QUERY_STRING"] == "")
    }

    @Test func pathInfoIsPercentDecodedAsLatin1() throws {
        // %C3%A9 is "é" in UTF-8: PEP 3333 wants the two bytes as two latin-1 code points.
        let env = try environ("GET /caf%C3%A9/%2F%zz HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(env["PATH_INFO"] == "/caf\u{C3}\u{A9}//%zz")
        #expect(env["RAW_URI"] == "/caf%C3%A9/%2F%zz")
    }

    @Test func contentTypeAndLengthHaveNoPrefix() throws {
        let env = try environ("POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc")
        #expect(env["CONTENT_TYPE"] == "text/plain")
        #expect(env["CONTENT_LENGTH"] == "3")
        #expect(env["HTTP_CONTENT_TYPE"] == nil)
        #expect(env["HTTP_CONTENT_LENGTH"] == nil)
        #expect(env.hasBody)
    }

    @Test func chunkedBodyHasNoContentLength() throws {
        let env = try environ("POST /f HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(env.hasBody)
        #expect(env["CONTENT_LENGTH"] == nil)
        #expect(env["HTTP_TRANSFER_ENCODING"] == "chunked")
    }

    @Test func headersWithUnderscoresAreDropped() throws {
        let env = try environ("GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n")
        #expect(env["HTTP_X_FORWARDED_FOR"] == "1.2.3.4")
        #expect(env.pairs.filter { $0.key == "HTTP_X_FORWARDED_FOR" }.count == 1)
    }

    @Test func repeatedHeadersAreJoinedWithCommas() throws {
        let env = try environ("GET / HTTP/1.1\r\nHost: a\r\nAccept: a/b\r\nX-Other: 1\r\naccept: c/d\r\nACCEPT: e/f\r\n\r\n")
        #expect(env["HTTP_ACCEPT"] == "a/b,c/d,e/f")
        #expect(env.pairs.filter { $0.key == "HTTP_ACCEPT" }.count == 1)
        #expect(env["HTTP_X_OTHER"] == "1")
    }

    @Test func obsTextValuesAreLatin1() throws {
        var bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf".utf8)
        bytes += [0xE9]
        bytes += Array("\r\n\r\n".utf8)
        #expect(try environ(bytes: bytes)["HTTP_X_NAME"] == "caf\u{E9}")
    }

    @Test func scriptNameFromRootPathIsStripped() throws {
        let settings = try WSGISettings(scriptName: "/app/")
        #expect(settings.scriptName == "/app")
        let env = try environ("GET /app/users/1 HTTP/1.1\r\nHost: a\r\n\r\n", settings: settings)
        #expect(env["SCRIPT_NAME"] == "/app")
        #expect(env["PATH_INFO"] == "/users/1")
        #expect(try environ("GET /app HTTP/1.1\r\nHost: a\r\n\r\n", settings: settings)["PATH_INFO"] == "")
        // Only at a segment boundary: /application is not under /app.
        #expect(try environ("GET /application HTTP/1.1\r\nHost: a\r\n\r\n", settings: settings)["PATH_INFO"] == "/application")
    }

    @Test func rootPathMustBeAbsolute() {
        #expect(throws: WSGISettingError.self) { try WSGISettings(scriptName: "app") }
    }

    @Test func secureSchemeOnlyFromAllowedPeers() throws {
        let request = "GET / HTTP/1.1\r\nHost: shop.example\r\nX-Forwarded-Proto: https\r\n\r\n"
        let trusted = try environ(request, peer: "127.0.0.1")
        #expect(trusted["wsgi.url_scheme"] == "https")
        #expect(trusted["SERVER_PORT"] == "443")
        let untrusted = try environ(request, peer: "203.0.113.9")
        #expect(untrusted["wsgi.url_scheme"] == "http")
        #expect(untrusted["SERVER_PORT"] == "80")
        let everyone = try ForwardedScheme(forwardedAllowIPs: "*")
        #expect(try environ(request, peer: "203.0.113.9", forwarded: everyone)["wsgi.url_scheme"] == "https")
    }

    @Test func secureSchemeHeadersMustMatchTheirValue() throws {
        #expect(try environ("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: http\r\n\r\n")["wsgi.url_scheme"] == "http")
        #expect(try environ("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Ssl: on\r\n\r\n")["wsgi.url_scheme"] == "https")
        let custom = try ForwardedScheme(secureSchemeHeaders: "X-Scheme=https")
        #expect(try environ("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n", forwarded: custom)["wsgi.url_scheme"] == "http")
        #expect(try environ("GET / HTTP/1.1\r\nHost: a\r\nX-Scheme: https\r\n\r\n", forwarded: custom)["wsgi.url_scheme"] == "https")
        #expect(throws: ProxySettingError.self) { try ForwardedScheme(secureSchemeHeaders: "X-Scheme") }
    }

    @Test func serverNameForms() throws {
        let v6 = try environ("GET / HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n")
        #expect(v6["SERVER_NAME"] == "[::1]")
        #expect(v6["SERVER_PORT"] == "9000")
        let plain = try environ("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n")
        #expect(plain["SERVER_PORT"] == "80")
        // HTTP/1.0 without Host: the socket's own address.
        let old = try environ("GET / HTTP/1.0\r\n\r\n")
        #expect(old["SERVER_NAME"] == "10.0.0.1")
        #expect(old["SERVER_PORT"] == "8000")
        #expect(old["SERVER_PROTOCOL"] == "HTTP/1.0")
    }

    @Test func everyValueIsReusedStorage() throws {
        // One environ value built twice keeps only the second request's entries.
        var env = try environ("GET /a HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\n")
        let bytes = Array("GET /b HTTP/1.1\r\nHost: b\r\n\r\n".utf8)
        var parser = RequestParser(limits: HTTPLimits())
        var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
        try bytes.withUnsafeBytes { raw in
            try table.withUnsafeMutableBufferPointer { fields in
                guard case .complete(let head) = parser.parseHead(raw, fields: fields) else { throw WSGISettingError("parse") }
                env.build(head: head, buffer: raw, fields: UnsafeBufferPointer(rebasing: fields[..<head.fieldCount]),
                          remoteAddress: UnsafeRawBufferPointer(start: nil, count: 0), remotePort: nil, isSecure: false, settings: try WSGISettings(),
                          serverAddress: { ("x", "1") })
            }
        }
        #expect(env["PATH_INFO"] == "/b")
        #expect(env["HTTP_X_ONE"] == nil)
        #expect(env["REMOTE_ADDR"] == "")
        #expect(env["REMOTE_PORT"] == nil, "a unix socket's peer has no port")
    }
}

@Suite struct WSGISettingsTests {
    @Test func workerClassNamesMapToModes() {
        #expect(WorkerClass(gunicornName: "sync") == .threads)
        #expect(WorkerClass(gunicornName: "gthread") == .threads)
        #expect(WorkerClass(gunicornName: "gevent") == .gevent)
        #expect(WorkerClass(gunicornName: "eventlet") == .gevent)
        #expect(WorkerClass(gunicornName: "egg:meinheld#gunicorn_worker") == .gevent)
        #expect(WorkerClass(gunicornName: "tornado") == nil)
        let message = WorkerClass.unknown("tornado")
        #expect(message.contains("\"tornado\""))
        #expect(message.contains("gthread") && message.contains("egg:meinheld#gunicorn_worker"))
        #expect(WorkerClass.explanation(of: "eventlet", threads: 1).contains("served as gevent"))
    }
}
