import Foundation
import Testing

/// The units in systemd/ are what systemd-analyze accepts, and their command lines are what
/// corrald and corralctl accept.
@Suite struct SystemdUnitsTests {
    private let units = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd")

    @Test func systemdAnalyzeVerifyReportsNothing() throws {
        let directory = TemporaryDirectory()
        // The binaries where the build put them (verify checks that ExecStart exists); the
        // templates as instances, which is how systemd loads them.
        for (source, target) in [("corral.service", "corral.service"), ("corral.socket", "corral.socket"),
                                 ("corral@.service", "corral@shop.service"), ("corral@.socket", "corral@shop.socket")] {
            let text = try String(contentsOf: units.appendingPathComponent(source), encoding: .utf8)
            directory.write(target, text.replacingOccurrences(of: "/usr/bin/", with: Binaries.directory.path + "/"))
        }
        // --man=no: the man pages come with the Debian package, not with a build tree.
        let verified = shell("cd \(directory.path) && systemd-analyze verify --man=no corral.service corral.socket corral@shop.service corral@shop.socket")
        #expect(verified.status == 0 && verified.output.isEmpty, "\(verified.output)")
    }

    @Test func theCommandLinesAreAccepted() throws {
        let service = try String(contentsOf: units.appendingPathComponent("corral.service"), encoding: .utf8)
        func command(_ key: String) throws -> String {
            let line = try #require(service.split(separator: "\n").first { $0.hasPrefix(key + "=") })
            return line.dropFirst(key.count + 1).replacingOccurrences(of: "/usr/bin/", with: Binaries.directory.path + "/")
                .replacingOccurrences(of: "/etc/corral/corral.toml", with: "config/corral.toml")
        }
        let root = units.deletingLastPathComponent().path
        let checked = shell("cd \(root) && \(try command("ExecStart")) --check-config")
        #expect(checked.status == 0, "\(checked.output)")
        let reload = shell("cd \(root) && \(try command("ExecReload"))")
        #expect(reload.status == 4, "parsed, and nothing listens at /run/corral here: \(reload.output)")
    }
}
