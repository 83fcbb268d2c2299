import CorralServer
import CorralWebSocket
import Glibc

/// The loop's side of an accepted ASGI WebSocket: the connection's events go to the app
/// (`WSGIBridge.Event.webSocket`), and what the app posts goes to the connection. Two coroutines
/// on the loop thread: `run` waits on the socket, `pump` on the app. Both directions are
/// bounded: at most `window` messages wait for the app to take them (then nothing is read, and
/// TCP slows the client), and the runtime waits for `drained` after each `window` sends.
final class WebSocketSession: @unchecked Sendable {
    /// Messages handed to the app before it says it took them (the runtime's WINDOW).
    static let window = 16

    let exchange: Exchange
    unowned(unsafe) let socket: WebSocket
    let bridge: WSGIBridge
    private let serial: Int
    private var credit = window
    /// The connection is gone: from here on only the app's end is awaited.
    private var ended = false

    init(exchange: Exchange, socket: WebSocket, bridge: WSGIBridge) {
        self.exchange = exchange
        self.socket = socket
        self.bridge = bridge
        serial = exchange.serial
    }

    /// Until the conversation ends; the app's end is awaited by `pump`, which outlives it.
    func run() async {
        socket.loop.spawn { await self.pump() }
        while true {
            switch await socket.next(acceptingMessages: credit > 0) {
            case .message(let kind, let bytes):
                credit -= 1
                tell(.message(kind, bytes))
            case .closed(let code, let reason):
                ended = true
                tell(.closed(code: code, reason: reason))
                return
            case .written:
                tell(.drained)
            case .woken:
                break
            }
        }
    }

    private func tell(_ event: WSGIBridge.WebSocketEvent) {
        bridge.deliver(.webSocket(token: exchange.token, serial: serial, event))
    }

    /// What the app posts, until it returns (its `finish`, or `fail` with the traceback).
    private func pump() async {
        while true {
            switch await exchange.next() {
            case .sendMessage(let kind, let bytes):
                if !ended { socket.send(kind, bytes) }
            case .closeWebSocket(let code, let reason):
                if !ended { socket.close(code: code, reason: reason) }
            case .messagesTaken(let count):
                credit += count
                if !ended { socket.wake() }
            case .flushWebSocket:
                if ended { break }   // the app has heard (or will) that it ended
                socket.reportWhenWritten = true
                socket.wake()
            case .readBody:
                exchange.reply(.body([]))
            case .file(_, let fd, _, _):
                Glibc.close(fd)
            case .fail(let traceback):
                bridge.log.error(traceback)
                finish(closing: WebSocketCloseCode.internalError.rawValue)
                return
            case .finish:
                finish(closing: WebSocketCloseCode.normal.rawValue)
                return
            case .acceptWebSocket, .respond, .chunk, .handOver, .earlyHint, .trailers:
                break   // the runtime sends none of these after accepting
            }
        }
    }

    /// The app returned: a conversation it left open is closed with `code`.
    private func finish(closing code: UInt16) {
        if !ended { socket.close(code: code) }
        bridge.end(exchange)
    }
}
