import CorralHTTP
import Glibc

/// One request on an HTTP/2 connection, between the session (which reports its head and body
/// and asks for its response body) and the stream's `Connection` (a pooled one, not watched by
/// epoll), whose coroutine serves the request through the same handler and code as HTTP/1.1.
final class HTTP2Stream {
    private(set) var id: Int32
    unowned(unsafe) private(set) var owner: HTTP2Connection
    /// The connection object serving it while the handler runs; nil once it is released.
    unowned(unsafe) var connection: Connection?

    // The request, as it arrives.
    var method: [UInt8] = []
    var path: [UInt8] = []
    var authority: [UInt8] = []
    var cookies: [UInt8] = []
    /// Its regular fields as they come, in HTTP/1.1's form ("name: value\r\n").
    var fields: [UInt8] = []
    /// The head in HTTP/1.1's text form, for the request parser: one header policy for both.
    var head: [UInt8] = []
    var headListSize = 0
    /// DATA received, not yet moved into the connection's read buffer.
    var pendingBody: [UInt8] = []
    var bodyReceived = 0
    /// The HEADERS frame ended the stream: the request has no body at all.
    var hasNoBody = false
    var bodyEnded = false
    /// Body bytes the app has been given since the window was last opened by that much.
    var unacknowledged = 0
    /// The stream is closed (reset by either side, or finished): nothing more comes or goes.
    var closed = false

    // The response body, as the session asks for it.
    enum Source {
        case none
        case bytes([UInt8], offset: Int)
        /// A cached file's bytes (`OpenFile.contents`), from `offset` to `end`.
        case cached(OpenFile, offset: Int, end: Int)
        case file(Int32, offset: Int, remaining: Int, owned: Bool, keep: AnyObject?)
        /// A producer's pieces; `finished` once it returned.
        case queue(finished: Bool)
    }

    var source = Source.none
    var queued: [UInt8] = []
    var queueStart = 0
    /// The whole body has been handed to the session.
    var responseSent = false
    var waiter: UnsafeContinuation<Void, Never>?

    static let queueLimit = 64 * 1024

    init(id: Int32, owner: HTTP2Connection) {
        self.id = id
        self.owner = owner
    }

    /// A new life for a spare stream (HTTP2StreamPool): every field reset, storage kept unless
    /// a large body left it big.
    func reuse(id: Int32, owner: HTTP2Connection) {
        self.id = id
        self.owner = owner
        method.removeAll(keepingCapacity: true)
        path.removeAll(keepingCapacity: true)
        authority.removeAll(keepingCapacity: true)
        cookies.removeAll(keepingCapacity: true)
        head.removeAll(keepingCapacity: true)
        fields.removeAll(keepingCapacity: true)
        headListSize = 0
        pendingBody.removeAll(keepingCapacity: pendingBody.capacity <= Self.queueLimit)
        bodyReceived = 0
        hasNoBody = false
        bodyEnded = false
        unacknowledged = 0
        closed = false
        source = .none
        queued.removeAll(keepingCapacity: queued.capacity <= 2 * Self.queueLimit)
        queueStart = 0
        responseSent = false
        waiter = nil
    }

    /// Wakes the stream's coroutine if it waits (body arrived, room in the queue, the end).
    func wake() {
        guard let waiter else { return }
        self.waiter = nil
        waiter.resume()
    }

    func wait() async {
        await withUnsafeContinuation { waiter = $0 }
    }

    /// The next response bytes into `buffer` (the session's DATA frame): how many and whether
    /// that ends the body; nil when a producer has nothing yet.
    func nextBody(into buffer: UnsafeMutableRawPointer, room: Int) -> (count: Int, end: Bool)? {
        switch source {
        case .none:
            responseSent = true
            return (0, true)
        case .bytes(let bytes, let offset):
            let n = min(room, bytes.count - offset)
            bytes.withUnsafeBytes { memcpy(buffer, $0.baseAddress! + offset, n) }
            source = .bytes(bytes, offset: offset + n)
            return finish(n, end: offset + n == bytes.count)
        case .cached(let file, let offset, let end):
            let n = min(room, end - offset)
            file.contents.withUnsafeBytes { memcpy(buffer, $0.baseAddress! + offset, n) }
            source = .cached(file, offset: offset + n, end: end)
            return finish(n, end: offset + n == end)
        case .file(let fd, let offset, let remaining, let owned, let keep):
            let n = pread(fd, buffer, min(room, remaining), off_t(offset))
            guard n > 0 else {
                // The file shrank or cannot be read: the stream is cut short.
                owner.session.reset(id)
                return finish(0, end: true)
            }
            source = .file(fd, offset: offset + n, remaining: remaining - n, owned: owned, keep: keep)
            return finish(n, end: remaining == n)
        case .queue(let finished):
            let available = queued.count - queueStart
            if available == 0 { return finished ? finish(0, end: true) : nil }
            let n = min(room, available)
            queued.withUnsafeBytes { memcpy(buffer, $0.baseAddress! + queueStart, n) }
            queueStart += n
            if queueStart == queued.count {
                queued.removeAll(keepingCapacity: true)
                queueStart = 0
            }
            if available - n < Self.queueLimit { wake() }   // the producer may go on
            return finish(n, end: finished && queueStart == queued.count)
        }
    }

    /// The response body is bytes in memory (not a file or a producer still writing).
    var holdsItsBody: Bool {
        switch source {
        case .bytes, .cached: true
        default: false
        }
    }

    private func finish(_ count: Int, end: Bool) -> (count: Int, end: Bool) {
        connection?.bodyBytesSent += count
        if end {
            responseSent = true
            releaseSource()
            wake()
        }
        return (count, end)
    }

    /// Closes a file the response owned.
    func releaseSource() {
        if case .file(let fd, _, _, true, _) = source { close(fd) }
        source = .none
    }
}
