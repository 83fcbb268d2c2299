import Foundation

/// The WSGI apps under tests/wsgi and the virtualenv with Flask and gevent that `make test`
/// builds (.build/wsgi-venv, from Debian's python3, which libpython matches).
enum WSGIApps {
    static let repository: URL = {
        var url = Binaries.directory
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
            url.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    static var directory: String { repository.appendingPathComponent("tests/wsgi").path }

    static var virtualenv: String {
        ProcessInfo.processInfo.environment["CORRAL_WSGI_VENV"]
            ?? repository.appendingPathComponent(".build/wsgi-venv").path
    }

    /// Fails (never skips) when the venv is missing: `make test` creates it.
    static func requireVirtualenv() throws {
        guard FileManager.default.isExecutableFile(atPath: virtualenv + "/bin/python3") else {
            throw WorkerFailed(description: "no virtualenv with Flask at \(virtualenv): run `make test`, which creates it")
        }
    }

    /// corral-python serving `app` from tests/wsgi, started by systemd-socket-activate.
    static func worker(_ app: String, _ arguments: [String] = [], environment: [String: String] = [:]) throws -> WorkerProcess {
        try requireVirtualenv()
        let worker = try WorkerProcess("corral-python", arguments: ["--chdir", directory, "--virtualenv", virtualenv] + arguments + [app],
                                       environment: environment)
        guard eventually(timeout: 30, { worker.log.contains("application \(app) loaded") || worker.waitForExit(timeout: 0) != nil }),
              worker.log.contains("loaded") else {
            throw WorkerFailed(description: "corral-python did not load \(app): \(worker.log)")
        }
        return worker
    }
}

/// One request on a fresh connection, any method and body.
func request(port: UInt16, _ method: String, _ path: String, headers: [String] = [], body: [UInt8] = []) throws -> HTTPResponse? {
    let client = try RawClient(port: port)
    var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
    for header in headers { head += header + "\r\n" }
    if !body.isEmpty { head += "Content-Length: \(body.count)\r\n" }
    client.send(Array((head + "\r\n").utf8) + body)
    return client.readResponse(forHead: method == "HEAD")
}

/// A multipart/form-data body with one file and one text field.
func multipart(file: [UInt8], note: String) -> (contentType: String, body: [UInt8]) {
    let boundary = "corral-boundary-1234"
    var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n\(note)\r\n".utf8)
    body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
    body += file
    body += Array("\r\n--\(boundary)--\r\n".utf8)
    return ("multipart/form-data; boundary=\(boundary)", body)
}

/// A JSON object's members, for asserting on what an app answered.
func jsonObject(_ response: HTTPResponse?) -> [String: Any] {
    guard let response, let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else { return [:] }
    return object
}

/// The resident set of `pid` in KiB.
func residentKiB(_ pid: Int32) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}
