import CCorral
import CorralControl
import CorralEventLoop
import Glibc

/// The recent bytes of one output stream, bounded, with a count of all bytes ever added (so a
/// follower can tell what is new).
struct RecentOutput {
    private(set) var bytes: [UInt8] = []
    private(set) var total = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    mutating func append(_ more: ArraySlice<UInt8>) {
        bytes += more
        total += more.count
        if bytes.count > capacity { bytes.removeFirst(bytes.count - capacity) }
    }
}

/// Workers' stdout and stderr go through pipes corrald reads: stdout is passed on to corrald's
/// stdout as it is (access logs), each stderr line to corrald's error log (its file, stderr or
/// the journal, with the worker's pid); each slot's recent output is kept for `tail`, and each
/// worker's last stderr for corrald's last words when workers fail to boot.
final class WorkerOutput {
    private struct Source {
        let pid: Int32
        let slot: Int
        let channel: OutputChannel
    }

    private let loop: EventLoop
    /// Receives each complete stderr line (without its newline), the worker's pid and slot.
    var relayLine: (String, Int32, Int) -> Void = { _, _, _ in }
    private var partialLines: [Int32: [UInt8]] = [:]   // read end → an unfinished stderr line
    private var sources: [Int32: Source] = [:]                 // read end → whose
    private var recent: [Int: [OutputChannel: RecentOutput]] = [:]
    private var lastWords: [Int32: RecentOutput] = [:]          // pid → its last stderr bytes
    private static let slotBytes = 64 * 1024
    private static let lastWordsBytes = 2048

    init(loop: EventLoop) {
        self.loop = loop
    }

    struct Pipes {
        let stdout: (read: Int32, write: Int32)
        let stderr: (read: Int32, write: Int32)
    }

    /// Pipes for the next worker: give the write ends to the child, then `attach` them.
    func makePipes() throws(SystemError) -> Pipes {
        let stdout = try Self.makePipe()
        do {
            return Pipes(stdout: stdout, stderr: try Self.makePipe())
        } catch {
            close(stdout.read)
            close(stdout.write)
            throw error
        }
    }

    func discard(_ pipes: Pipes) {
        for fd in [pipes.stdout.read, pipes.stdout.write, pipes.stderr.read, pipes.stderr.write] { close(fd) }
    }

    func attach(_ pipes: Pipes, to pid: Int32, slot: Int) {
        close(pipes.stdout.write)
        close(pipes.stderr.write)
        watch(stdout: pipes.stdout.read, stderr: pipes.stderr.read, of: pid, slot: slot)
    }

    /// Reads a worker's output from pipes it already writes to (a worker adopted across a re-exec).
    func watch(stdout: Int32, stderr: Int32, of pid: Int32, slot: Int) {
        lastWords[pid] = RecentOutput(capacity: Self.lastWordsBytes)
        for (fd, channel) in [(stdout, OutputChannel.stdout), (stderr, .stderr)] {
            _ = corral_set_nonblocking(fd)
            sources[fd] = Source(pid: pid, slot: slot, channel: channel)
            do {
                try loop.register(fd, events: EventLoop.readable, watcher: ReadinessHandler { [unowned self] in
                    drain(fd)
                })
            } catch {
                drain(fd)
            }
        }
    }

    /// The read ends of a worker's stdout and stderr pipes, to hand over across a re-exec.
    func readEnds(of pid: Int32) -> (stdout: Int32, stderr: Int32)? {
        let mine = sources.filter { $0.value.pid == pid }
        guard let out = mine.first(where: { $0.value.channel == .stdout })?.key,
              let err = mine.first(where: { $0.value.channel == .stderr })?.key else { return nil }
        return (out, err)
    }

    /// A slot's recent output on one channel.
    func output(slot: Int, channel: OutputChannel) -> RecentOutput {
        recent[slot]?[channel] ?? RecentOutput(capacity: 0)
    }

    /// The worker was reaped: what it wrote to stderr last (its pipes are read to the end first).
    func finish(_ pid: Int32) -> String {
        for (fd, source) in sources where source.pid == pid { drain(fd) }
        let tail = lastWords.removeValue(forKey: pid)
        var text = String(decoding: tail?.bytes ?? [], as: UTF8.self)
        if let tail, tail.total > tail.bytes.count, let newline = text.firstIndex(of: "\n") {
            text = String(text[text.index(after: newline)...])   // starts mid-line: drop the fragment
        }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    private func relayLines(_ bytes: ArraySlice<UInt8>, from fd: Int32, source: Source) {
        var line = partialLines.removeValue(forKey: fd) ?? []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                relayLine(String(decoding: line, as: UTF8.self), source.pid, source.slot)
                line.removeAll(keepingCapacity: true)
            } else if line.count < 16384 {   // a runaway line is cut, not buffered without end
                line.append(byte)
            }
        }
        if !line.isEmpty { partialLines[fd] = line }
    }

    /// A pipe, both ends close-on-exec.
    static func makePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        _ = corral_set_cloexec(ends[0], 1)   // corrald is single-threaded: no fork can slip in between
        _ = corral_set_cloexec(ends[1], 1)
        return (ends[0], ends[1])
    }

    private func drain(_ fd: Int32) {
        guard let source = sources[fd] else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                if source.channel == .stdout {
                    _ = buffer.withUnsafeBytes { write(1, $0.baseAddress, n) }
                } else {
                    relayLines(buffer[..<n], from: fd, source: source)
                }
                recent[source.slot, default: [:]][source.channel, default: RecentOutput(capacity: Self.slotBytes)]
                    .append(buffer[..<n])
                // Nil once reaped (a grandchild may still hold the pipe).
                if source.channel == .stderr { lastWords[source.pid]?.append(buffer[..<n]) }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                    if let rest = partialLines.removeValue(forKey: fd), !rest.isEmpty {
                        relayLine(String(decoding: rest, as: UTF8.self), source.pid, source.slot)
                    }
                    loop.unregister(fd)
                    close(fd)
                    sources[fd] = nil
                }
                return
            }
        }
    }
}
