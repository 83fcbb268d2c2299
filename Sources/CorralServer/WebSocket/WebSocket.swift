import CCorral
import CorralEventLoop
import CorralHTTP
import CorralWebSocket
import Glibc

/// A connection after its 101: the socket side of a `WebSocketConversation`, on the loop thread.
/// One coroutine (the session a handler gave the engine) asks `next()` for what happened: a whole
/// message, the end, or a `wake()` from elsewhere on the loop (the app has something to send).
/// Reading stops while the session takes no messages (back-pressure reaches the client through
/// TCP); the read buffer goes back to the pool whenever nothing is buffered, so an idle WebSocket
/// holds no buffer.
public final class WebSocket {
    public enum Event {
        case message(WebSocketFrameDecoder.MessageKind, [UInt8])
        /// The conversation ended (see `WebSocketConversation.Event.closed`); nothing more comes.
        case closed(code: UInt16, reason: String)
        /// `wake()` was called.
        case woken
        /// Everything queued is written (once, after `reportWhenWritten` was set).
        case written
    }

    /// Makes `next()` report `.written` once all that is queued has gone to the socket.
    public var reportWhenWritten = false

    unowned(unsafe) let connection: Connection
    private var conversation: WebSocketConversation
    private var woken = false
    private var ending: (code: UInt16, reason: String)?
    /// The connection failed or the client left: what is pending is not sent.
    private var lost = false
    /// Decoded bytes at the front of the read buffer.
    private var cursor = 0

    /// `handshakeSent` false: the 101 could not be written, and the first `next()` reports the end.
    init(connection: Connection, settings: WebSocketConversation.Settings, handshakeSent: Bool) {
        self.connection = connection
        conversation = WebSocketConversation(settings: settings, now: connection.server.loop.now)
        // Frames the client sent right behind its handshake stay; the head goes.
        cursor = connection.bodyCursor
        if !handshakeSent { ending = endOfConnection() }
    }

    public var loop: EventLoop { connection.server.loop }

    /// Bytes of frames not yet written to the socket.
    public var pendingOutput: Int { conversation.pendingOutputCount }

    /// Queues a message and writes what the socket takes now (never waits). What it does not
    /// take wakes `next()`, which then waits for the socket to be writable as well.
    public func send(_ kind: WebSocketFrameDecoder.MessageKind, _ bytes: UnsafeRawBufferPointer) {
        conversation.send(kind, bytes)
        flush()
        if conversation.pendingOutputCount > 0 { wake() }
    }

    public func send(_ kind: WebSocketFrameDecoder.MessageKind, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { send(kind, $0) }
    }

    /// Starts the close handshake; `next()` reports the end once the client answered (or did not
    /// within the close timeout).
    public func close(code: UInt16, reason: String = "") {
        conversation.close(code: code, reason: reason, now: loop.now)
        flush()
        wake()
    }

    /// Makes a `next()` that waits return `.woken` (at once, or the next time it is called).
    public func wake() {
        woken = true
        guard let waiter = connection.waiter else { return }
        connection.waiter = nil
        waiter.resume(returning: .ready)
    }

    /// The next event. `acceptingMessages` false: the session cannot take one now, so nothing is
    /// read (control frames wait too) until it is called with true.
    public func next(acceptingMessages: Bool) async -> Event {
        while true {
            if let ending {
                // The last frames (the close) go out, bounded by the send timeout.
                if conversation.pendingOutputCount > 0 && !lost { _ = await writeOutput() }
                return .closed(code: ending.code, reason: ending.reason)
            }
            if woken {
                woken = false
                return .woken
            }
            if reportWhenWritten && conversation.pendingOutputCount == 0 {
                reportWhenWritten = false
                return .written
            }
            if acceptingMessages || conversation.phase != .open, let event = decodeBuffered() {
                if case .closed(let code, let reason) = event { ending = (code, reason); continue }
                return translated(event)
            }
            if conversation.pendingOutputCount > 0 && connection.writeReady {
                flush()
                continue
            }
            if acceptingMessages || conversation.phase != .open {
                switch readAvailable() {
                case .ready: continue
                case .closed, .failed:
                    ending = endOfConnection()
                    continue
                default: break
                }
            }
            var interest: UInt32 = 0
            if (acceptingMessages || conversation.phase != .open) && !connection.readReady { interest |= EventLoop.readable }
            if (conversation.pendingOutputCount > 0 || connection.tlsReadWantsWrite) && !connection.writeReady { interest |= EventLoop.writable }
            switch await connection.wait(for: interest, until: min(conversation.deadline, loop.now + 3_600_000_000_000)) {
            case .timedOut:
                if let event = conversation.timerFired(now: loop.now) {
                    if case .closed(let code, let reason) = event { ending = (code, reason) }
                }
                flush()
            case .closed, .failed, .shutdown:
                ending = endOfConnection()
            case .ready:
                break
            }
        }
    }

    private func translated(_ event: WebSocketConversation.Event) -> Event {
        switch event {
        case .message(let kind, let bytes): return .message(kind, bytes)
        case .closed(let code, let reason): return .closed(code: code, reason: reason)
        }
    }

    private func endOfConnection() -> (code: UInt16, reason: String) {
        lost = true
        if case .closed(let code, let reason)? = conversation.connectionLost() { return (code, reason) }
        return (WebSocketCloseCode.abnormal.rawValue, "")
    }

    /// Decodes what the read buffer holds, up to the first event.
    private func decodeBuffered() -> WebSocketConversation.Event? {
        guard let buffers = connection.buffers else { return nil }
        while cursor < connection.filled {
            let input = UnsafeMutableRawBufferPointer(start: buffers.bytes + cursor, count: connection.filled - cursor)
            let (consumed, event) = conversation.receive(input, now: loop.now)
            cursor += consumed
            flush()
            if let event { return event }
            if consumed == 0 { break }
        }
        if cursor == connection.filled {
            cursor = 0
            connection.filled = 0
            // Nothing buffered: the buffer goes back to the pool until bytes arrive.
            connection.server.pool.give(buffers)
            connection.buffers = nil
        } else if cursor > 0 {
            // Part of a frame's head or a control frame: to the front, with room after it.
            memmove(buffers.bytes, buffers.bytes + cursor, connection.filled - cursor)
            connection.filled -= cursor
            cursor = 0
        }
        return nil
    }

    /// One non-blocking read into the buffer: .ready when bytes came, .timedOut for none now.
    private func readAvailable() -> Connection.Outcome {
        guard connection.readReady else { return .timedOut }
        if connection.buffers == nil { connection.buffers = connection.server.pool.take() }
        let buffers = connection.buffers!
        if connection.filled == buffers.capacity { buffers.grow(to: buffers.capacity * 2) }
        let room = buffers.capacity - connection.filled
        while true {
            let n = connection.receive(buffers.bytes + connection.filled, room)
            if n > 0 {
                connection.filled += n
                if n < room && connection.tls == nil { connection.readReady = false }
                return .ready
            }
            if n == 0 { return .closed }
            switch errno {
            case EAGAIN:
                if connection.tlsReadWantsWrite { connection.writeReady = false } else { connection.readReady = false }
                return .timedOut
            case EINTR: continue
            default: return .failed
            }
        }
    }

    /// Writes what the socket takes now; false when the connection failed (the end is recorded).
    @discardableResult
    private func flush() -> Bool {
        while conversation.pendingOutputCount > 0 && connection.writeReady {
            let pending = conversation.pendingOutput
            let n = connection.transmit(pending.baseAddress!, pending.count)
            if n > 0 {
                conversation.consumeOutput(n)
                connection.bodyBytesSent += n
            } else if n < 0 && errno == EAGAIN {
                connection.writeReady = false
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                if ending == nil { ending = endOfConnection() }
                conversation.consumeOutput(conversation.pendingOutputCount)
                return false
            }
        }
        return true
    }

    /// Writes all that is pending, waiting for the socket up to the send timeout.
    private func writeOutput() async -> Bool {
        await connection.writeUntil({ conversation.pendingOutputCount == 0 }) {
            let pending = conversation.pendingOutput
            let n = connection.transmit(pending.baseAddress!, pending.count)
            if n > 0 { conversation.consumeOutput(n) }
            return n
        }
    }
}
