import Foundation
import Testing

/// corralctl typed as supervisorctl is typed: found without -s or -c, and with no verb, a prompt.
@Suite(.serialized) struct CorralctlShellTests {
    private let ctl = Binaries.path("corralctl")

    /// corrald started in its scratch directory with `-p corrald.pid`, so its socket is ./corrald.sock there.
    private func daemonBesideItsPidfile() throws -> CorraldProcess {
        let daemon = try CorraldProcess()
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        #expect(eventually { FileManager.default.fileExists(atPath: daemon.directory.file("corrald.sock")) })
        return daemon
    }

    @Test func withNoSocketGivenItLooksWhereCorraldPutsItAndSaysWhereItLooked() throws {
        let daemon = try daemonBesideItsPidfile()
        let found = shell("cd \(daemon.directory.path) && \(ctl) pid")
        #expect(found.output == "\(daemon.pid)\n", "beside ./corrald.pid: \(found.output)")

        let empty = TemporaryDirectory()
        let lost = shell("cd \(empty.path) && \(ctl) status")
        #expect(lost.status == 4)
        for place in ["/run/corral/corral.sock (corrald under systemd)", "/etc/corral/corral.toml",
                      "./corrald.sock (beside ./corrald.pid): No such file or directory",
                      "pass -s unix:///path/to/corral.sock, or -c with corrald's config file"] {
            #expect(lost.output.contains(place), "\(place) in \(lost.output)")
        }
    }

    @Test func withNoVerbItIsAPromptThatShowsStatusRunsVerbsAndSurvivesMistakes() throws {
        let daemon = try daemonBesideItsPidfile()
        let session = shell("cd \(daemon.directory.path) && printf 'help\\nhelp workers\\nbogus\\nworkers +1\\nsignal\\npid\\nquit\\nversion\\n' | \(ctl)")
        #expect(session.status == 0, "\(session.output)")
        let output = session.output
        #expect(output.hasPrefix("SLOT  PID"), "the status first, as supervisorctl starts: \(output)")
        #expect(output.contains("  reload    Reload without downtime"), "\(output)")
        #expect(output.contains("USAGE: corralctl workers"), "help VERB: \(output)")
        #expect(output.contains("*** unknown verb: bogus (help lists them)"), "\(output)")
        #expect(output.contains("workers: 2"), "\(output)")
        #expect(output.contains("Missing expected argument '<signal>'"), "a usage error does not end the session: \(output)")
        #expect(output.contains("\(daemon.pid)\n"), "\(output)")
        #expect(!output.contains("corral 0."), "nothing runs after quit: \(output)")
        #expect(eventually { daemon.workers.count == 2 })
    }

    @Test func onATerminalTheUpArrowRecallsTheLastVerbAndHistoryIsKept() throws {
        let daemon = try daemonBesideItsPidfile()
        let home = TemporaryDirectory()
        // script(1) gives corralctl a terminal; ESC [ A is the up arrow.
        let session = shell("""
            cd \(daemon.directory.path) && (printf 'pid\\n'; sleep 0.5; printf '\\033[A\\n'; sleep 0.5; printf 'quit\\n') \
            | HOME=\(home.path) script -qec \(shellQuoted(ctl)) /dev/null
            """)
        #expect(session.output.components(separatedBy: "corral> ").count >= 4, "\(session.output)")
        #expect(session.output.components(separatedBy: "\(daemon.pid)\r\n").count == 3, "pid ran twice: \(session.output)")
        let history = (try? String(contentsOfFile: home.file(".corralctl_history"), encoding: .utf8)) ?? ""
        #expect(history.contains("pid\npid\nquit"), "\(history)")
    }
}
