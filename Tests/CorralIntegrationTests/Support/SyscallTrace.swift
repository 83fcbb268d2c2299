import Foundation

/// strace attached to a running process, recording the syscalls that send (sendto, sendmsg,
/// writev, sendfile), so a test can count the sends a response took.
final class SyscallTrace {
    private let directory = TemporaryDirectory()
    private let process: TestProcess

    init(pid: pid_t) throws {
        process = try TestProcess(["/usr/bin/strace", "-f", "-s", "4096", "-e", "trace=sendto,sendmsg,writev,sendfile", "-o",
                                   directory.file("trace.txt"), "-p", String(pid)], logPath: directory.file("strace.log"))
        guard eventually({ process.log.contains("attached") || !process.isRunning }), process.isRunning else {
            throw WorkerFailed(description: "strace could not attach to \(pid): \(process.log)")
        }
    }

    /// Stops tracing; the recorded calls, one per line.
    func stop() -> [String] {
        process.signal(SIGINT)
        _ = process.waitForExit()
        let text = (try? String(contentsOfFile: directory.file("trace.txt"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }
}
