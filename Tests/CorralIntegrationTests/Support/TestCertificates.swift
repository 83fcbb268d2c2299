import Foundation

/// Certificates from trustme (tests/tls/make_certs.py, run with the WSGI venv's python): a CA,
/// a server certificate for localhost and 127.0.0.1, its renewal, a client certificate, and one
/// from a stranger CA. Made once per test, in a scratch directory.
final class TestCertificates {
    let directory = TemporaryDirectory()

    init() throws {
        try WSGIApps.requireVirtualenv()
        let script = WSGIApps.repository.appendingPathComponent("tests/tls/make_certs.py").path
        let made = shell("\(WSGIApps.virtualenv)/bin/python3 \(shellQuoted(script)) \(shellQuoted(directory.path))")
        guard made.status == 0 else { throw WorkerFailed(description: "make_certs.py failed: \(made.output)") }
    }

    /// `name.pem`, `name.key`, `ca.pem`…
    func file(_ name: String) -> String { directory.file(name) }

    var ca: String { file("ca.pem") }

    /// The flags that make a worker serve HTTPS with the server certificate.
    var serverFlags: [String] { ["--certfile", file("server.pem"), "--keyfile", file("server.key")] }

    /// curl against https://localhost:PORT (which resolves to 127.0.0.1 here) trusting the test
    /// CA; -v's lines say the protocol, cipher and ALPN.
    func curl(_ port: UInt16, _ path: String, _ options: String = "") -> (output: String, status: Int32) {
        shell("curl -sS --max-time 10 --cacert \(shellQuoted(ca)) --resolve localhost:\(port):127.0.0.1 \(options) https://localhost:\(port)\(path)")
    }

    /// The serial number of the certificate a TLS server at `port` presents (openssl s_client).
    func servedSerial(_ port: UInt16) -> String {
        shell("openssl s_client -connect 127.0.0.1:\(port) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial").output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One request over a new connection with openssl s_client, offering the session in
    /// `sessionFile` if it exists and saving the newest one there: whether it was resumed.
    func resumes(_ port: UInt16, sessionFile: String) -> Bool {
        let offer = FileManager.default.fileExists(atPath: sessionFile) ? "-sess_in \(shellQuoted(sessionFile))" : ""
        let request = "printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'"
        let output = shell("\(request) | openssl s_client -connect 127.0.0.1:\(port) -servername localhost \(offer) -sess_out \(shellQuoted(sessionFile)) -ign_eof 2>&1").output
        return output.contains("\nReused, TLSv1.3")
    }

    func serial(of certificate: String) -> String {
        shell("openssl x509 -in \(shellQuoted(file(certificate))) -noout -serial").output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
