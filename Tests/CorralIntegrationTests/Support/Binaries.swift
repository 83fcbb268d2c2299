import Foundation

/// Where `swift build` put the executables under test.
enum Binaries {
    static let directory: URL = {
        if let dir = ProcessInfo.processInfo.environment["CORRAL_BIN_DIR"] {
            return URL(fileURLWithPath: dir)
        }
        // The test bundle sits in the same build folder as the executables.
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("corral-worker").path) {
                return url
            }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug")
    }()

    /// CORRAL_TEST_PYTHON=X.Y runs the Python suites with the worker built for that Python
    /// (`make test` does, with a venv of it as CORRAL_WSGI_VENV): corral-python is then corral-pythonX.Y.
    static let python = ProcessInfo.processInfo.environment["CORRAL_TEST_PYTHON"]

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name == "corral-python" ? "corral-python" + (python ?? "") : name).path
    }
}

/// A scratch directory removed at the end of the test.
final class TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("corral-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ contents: String) {
        let target = url.appendingPathComponent(name)
        try! FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! contents.write(to: target, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Polls `condition` until it holds or `timeout` passes (tests never sleep a fixed time).
@discardableResult
func eventually(timeout: TimeInterval = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}
