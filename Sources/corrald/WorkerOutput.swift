import CCorral
import CorralEventLoop
import Glibc

/// Workers' stderr goes through a pipe corrald reads: every byte is passed on to corrald's own
/// stderr (where it would have gone anyway), and the last few lines of each worker are kept, so
/// that when workers fail to boot corrald can say why in its own last words.
final class WorkerOutput {
    private let loop: EventLoop
    private var pipes: [Int32: Int32] = [:]       // read end → pid
    private var tails: [Int32: [UInt8]] = [:]      // pid → its last bytes
    private static let tailBytes = 2048

    init(loop: EventLoop) {
        self.loop = loop
    }

    /// A pipe for the next worker's stderr: give `write` to the child and pass the pair to `attach`.
    func makePipe() throws(SystemError) -> (read: Int32, write: Int32) {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        _ = corral_set_cloexec(ends[0], 1)   // corrald is single-threaded: no fork can slip in between
        _ = corral_set_cloexec(ends[1], 1)
        return (ends[0], ends[1])
    }

    func attach(_ ends: (read: Int32, write: Int32), to pid: Int32) {
        Glibc.close(ends.write)
        _ = corral_set_nonblocking(ends.read)
        pipes[ends.read] = pid
        tails[pid] = []
        do {
            try loop.register(ends.read, events: EventLoop.readable, watcher: ReadinessHandler { [unowned self] in
                drain(ends.read)
            })
        } catch {
            drain(ends.read)
        }
    }

    /// The worker was reaped: what it wrote last (the pipe is read to its end first).
    func finish(_ pid: Int32) -> String {
        if let fd = pipes.first(where: { $0.value == pid })?.key { drain(fd) }
        let tail = tails.removeValue(forKey: pid) ?? []
        var text = String(decoding: tail, as: UTF8.self)
        if tail.count == Self.tailBytes, let newline = text.firstIndex(of: "\n") {
            text = String(text[text.index(after: newline)...])   // starts mid-line: drop the fragment
        }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    private func drain(_ fd: Int32) {
        guard let pid = pipes[fd] else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                _ = buffer.withUnsafeBytes { write(2, $0.baseAddress, n) }
                if var tail = tails[pid] {   // nil once reaped (a grandchild may still hold the pipe)
                    tail += buffer[..<n]
                    if tail.count > Self.tailBytes { tail.removeFirst(tail.count - Self.tailBytes) }
                    tails[pid] = tail
                }
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                    loop.unregister(fd)
                    Glibc.close(fd)
                    pipes[fd] = nil
                }
                return
            }
        }
    }
}
