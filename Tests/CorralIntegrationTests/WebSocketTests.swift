import Foundation
import Testing

/// WebSockets for ASGI apps, spoken by corral's engine: real clients (the `websockets` library,
/// and raw frames for what a library will not send), bare ASGI apps and FastAPI, Starlette and
/// Quart routes; limits, keepalive, back-pressure, and the close codes of a reload and a stop.
@Suite(.serialized) struct WebSocketTests {
    private var directory: String { WSGIApps.repository.appendingPathComponent("tests/asgi").path }

    private func worker(_ app: String, _ arguments: [String] = []) throws -> WorkerProcess {
        try WSGIApps.requireVirtualenv()
        let worker = try WorkerProcess("corral-python", arguments: ["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv]
                                       + arguments + [app])
        guard eventually(timeout: 30, { worker.log.contains("application \(app) loaded") || worker.waitForExit(timeout: 0) != nil }) else {
            throw WorkerFailed(description: "corral-python did not load \(app): \(worker.log)")
        }
        return worker
    }

    /// tests/asgi/ws_client.py's `scenario` against `url`: what it printed.
    private func client(_ scenario: String, _ url: String, _ arguments: String...) -> String {
        let words = ([scenario, url] + arguments).map(shellQuoted).joined(separator: " ")
        return shell("cd \(shellQuoted(directory)) && \(WSGIApps.virtualenv)/bin/python ws_client.py \(words) 2>&1").output
    }

    @Test func echoSubprotocolsAndTheCloseHandshake() throws {
        let worker = try worker("websocket_apps:echo", ["--access-logfile", "-"])
        let output = client("echo", "ws://127.0.0.1:\(worker.port)/room?q=1")
        #expect(output.contains("subprotocol second x-accepted yes"), "\(output)")
        #expect(output.contains("text hello\nbytes b'\\x00\\x01\\xff'\n"), "\(output)")
        #expect(output.contains("('path', '/room'), ('query_string', b'q=1'), ('raw_path', b'/room'), ('root_path', ''), ('scheme', 'ws'), ('subprotocols', ['first', 'second']), ('type', 'websocket')"), "\(output)")
        #expect(output.contains("big echoed True\nfragmented fragmented\npong ok\n"), "\(output)")
        // The app closed with its code and reason; the engine answered the client's close.
        #expect(output.contains("closed by server 4000 asked to"), "\(output)")
        #expect(eventually { worker.log.contains("disconnect 4000 asked to") }, "\(worker.log)")
        #expect(client("client_closes", "ws://127.0.0.1:\(worker.port)/").contains("closed 4100"))
        #expect(eventually { worker.log.contains("disconnect 4100 bye now") }, "\(worker.log)")
        // The access log has the handshake's line, 101; plain HTTP is served beside.
        #expect(worker.log.contains("\"GET /room?q=1 HTTP/1.1\" 101"), "\(worker.log)")
        #expect(try request(port: worker.port, "GET", "/plain")?.text == "plain http")
    }

    @Test func handshakesRefusedByTheEngineAndByTheApp() throws {
        let worker = try worker("websocket_apps:deny")
        let output = client("deny", "ws://127.0.0.1:\(worker.port)")
        #expect(output.contains("/close 403 None \n"), "\(output)")                       // a close before accepting
        #expect(output.contains("/custom 418 custom no websockets for you"), "\(output)") // websocket.http.response
        #expect(output.contains("/return 500"), "\(output)")
        #expect(output.contains("/raise 500"), "\(output)")
        #expect(eventually { worker.log.contains("RuntimeError: refusing in a rude way") }, "\(worker.log)")
        #expect(worker.log.contains("the app returned without accepting or closing the WebSocket /return"))
        // The engine's checks, before the app hears of it: the version (426, naming 13) and the key.
        let base = "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\n"
        let oldVersion = try raw(worker.port, base + "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: \(Self.key)\r\n\r\n")
        #expect(oldVersion.head.hasPrefix("HTTP/1.1 426") && oldVersion.head.contains("Sec-WebSocket-Version: 13"), "\(oldVersion.head)")
        let noKey = try raw(worker.port, base + "Sec-WebSocket-Version: 13\r\n\r\n")
        #expect(noKey.head.hasPrefix("HTTP/1.1 400") && noKey.body.contains("Sec-WebSocket-Key"), "\(noKey.head)")
    }

    @Test func theAppSendsFromAnotherTaskWhileAReceiveWaits() throws {
        let worker = try worker("websocket_apps:push")
        let output = client("push", "ws://127.0.0.1:\(worker.port)/")
        #expect(output.contains("ticks True echoes 5"), "\(output)\n\(worker.log)")
    }

    /// What a client library will not send: each breach closes with its code, and the app hears it.
    @Test func protocolErrorsCloseWithTheirCodes() throws {
        let worker = try worker("websocket_apps:echo", ["--ws-max-size", "1024"])
        let unmasked: [UInt8] = [0x81, 0x02] + Array("hi".utf8)
        let cases: [(String, [UInt8], UInt16)] = [
            ("an unmasked frame", unmasked, 1002),
            ("text that is not UTF-8", Self.frame(0x1, [0xC3, 0x28]), 1007),
            ("a message over ws_max_size", Self.frame(0x2, [UInt8](repeating: 7, count: 2000)), 1009),
            ("a reserved opcode", Self.frame(0x3, []), 1002),
        ]
        for (name, bytes, code) in cases {
            let answer = try raw(worker.port, Self.handshake, then: bytes)
            #expect(answer.head.hasPrefix("HTTP/1.1 101"), "\(name): \(answer.head)")
            #expect(answer.frames.last?.opcode == 0x8 && answer.frames.last?.closeCode == code,
                    "\(name): \(answer.frames.map { ($0.opcode, $0.closeCode ?? 0) })")
            #expect(eventually { worker.log.contains("disconnect \(code) ") }, "\(name): \(worker.log)")
        }
        // A message within the limit is echoed whole, though it came in three frames.
        // A ping between its fragments is answered at once. ("close": the app closes with 4000,
        // and the client answers.)
        let pieces = Self.frame(0x1, Array("ab".utf8), final: false) + Self.frame(0x9, Array("ping".utf8))
            + Self.frame(0x0, Array("cd".utf8), final: false) + Self.frame(0x0, Array("ef".utf8)) + Self.frame(0x1, Array("close".utf8))
        let answer = try raw(worker.port, Self.handshake, then: pieces)
        #expect(answer.frames.map(\.opcode) == [0xA, 0x1, 0x8], "\(answer.frames.map(\.opcode))")
        #expect(answer.frames.first?.payload == Array("ping".utf8) && answer.frames.dropFirst().first?.payload == Array("abcdef".utf8))
        #expect(answer.frames.last?.closeCode == 4000)
    }

    @Test func keepalivePingsAndAMissingPong() throws {
        let worker = try worker("websocket_apps:echo", ["--ws-ping-interval", "0.3", "--ws-ping-timeout", "0.3"])
        // A client that answers pings stays (the library answers them).
        let output = client("keepalive", "ws://127.0.0.1:\(worker.port)/", "1.5")
        #expect(output.contains("after 1.5 s: still here"), "\(output)")
        // One that does not is pinged, then closed with 1011.
        let silent = try raw(worker.port, Self.handshake, then: [])
        #expect(silent.frames.first?.opcode == 0x9, "\(silent.frames.map(\.opcode))")
        #expect(silent.frames.last?.opcode == 0x8 && silent.frames.last?.closeCode == 1011, "\(silent.frames.map(\.opcode))")
        #expect(eventually { worker.log.contains("disconnect 1011 keepalive ping timeout") }, "\(worker.log)")
    }

    /// A client that never reads while the app sends 64 KiB messages as fast as send() lets it:
    /// send() waits, so the worker's memory stays put and few messages go.
    @Test func aClientThatDoesNotReadCostsABoundedAmount() throws {
        let worker = try worker("websocket_apps:flood")
        let before = residentKiB(worker.pid)
        let client = try RawClient(port: worker.port)
        client.send(Self.handshake.replacingOccurrences(of: "GET / ", with: "GET /?65536 "))
        Thread.sleep(forTimeInterval: 3)   // the time it has to fill memory, if it would
        let after = residentKiB(worker.pid)
        #expect(after - before < 32 * 1024, "RSS \(before) → \(after) KiB")
        shutdown(client.fd, Int32(SHUT_RDWR))
        #expect(eventually { worker.log.contains("flood sent ") }, "\(worker.log)")
        let sent = worker.log.components(separatedBy: "flood sent ").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? -1
        #expect(sent >= 0 && sent < 400, "\(sent) messages sent to a client that read none")
        print("slow WebSocket reader: \(sent) messages of 64 KiB sent in 3 s; worker RSS \(before) → \(after) KiB")
    }

    @Test func fastAPIStarletteAndQuartWebSockets() throws {
        let scratch = TemporaryDirectory()
        let events = scratch.file("events")
        try WSGIApps.requireVirtualenv()
        let fastapi = try WorkerProcess("corral-python", arguments: ["-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv,
                                                                     "fastapi_app:app"], environment: ["ASGI_EVENTS": events])
        #expect(eventually(timeout: 30) { fastapi.log.contains("loaded") }, "\(fastapi.log)")
        let chat = client("chat", "ws://127.0.0.1:\(fastapi.port)/ws?name=ann")
        #expect(chat.contains("{\"to\":\"ann\",\"echo\":{\"n\":1},\"pool\":\"pool-\(fastapi.pid)\"}"), "\(chat)")
        #expect(eventually { ((try? String(contentsOfFile: events, encoding: .utf8)) ?? "").contains("websocket closed 1000") })

        let starlette = try worker("starlette_app:app")
        let shout = client("text", "ws://127.0.0.1:\(starlette.port)/ws", "quiet", "shout")
        #expect(shout.contains("reply QUIET subprotocol shout"), "\(shout)")

        let quart = try worker("quart_app:app")
        let reversed = client("text", "ws://127.0.0.1:\(quart.port)/ws", "corral")
        #expect(reversed.contains("reply larroc subprotocol None"), "\(reversed)")
    }

    /// The Autobahn TestSuite's cases (kosoku runs them, two at a time) against a plain echo app:
    /// sections 1-10 (framing, pings, fragmentation, UTF-8, the close handshake, limits, large
    /// messages), and a fifth of 12-13 (permessage-deflate: each group of offers and window
    /// sizes; all 517 cases run in `make bench`). Every verdict OK, NON-STRICT or INFORMATIONAL.
    @Test func autobahnCases() throws {
        let worker = try worker("websocket_apps:autobahn")
        try autobahn(worker.port, ["-x", "12.*", "-x", "13.*"], expecting: 301)
        try autobahn(worker.port, ["12.1.*", "13.1.*", "13.3.*", "13.5.*", "13.7.*"].flatMap { ["-i", $0] }, expecting: 90)
    }

    private func autobahn(_ port: UInt16, _ selection: [String], expecting count: Int) throws {
        let scratch = TemporaryDirectory()
        let run = shell("cd \(scratch.path) && \(WSGIApps.virtualenv)/bin/kosoku 127.0.0.1:\(port) \(selection.map(shellQuoted).joined(separator: " ")) -p 2 -o reports 2>&1")
        #expect(run.status == 0 && run.output.contains("\(count) cases passed"), "\(run.output)")
        let index = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: scratch.file("reports/index.json"))))
        var verdicts: [String: Int] = [:]
        for cases in (index as? [String: [String: [String: Any]]])?.values.map({ $0 }) ?? [] {
            for (id, result) in cases {
                let verdict = "\(result["behavior"] ?? "?")/\(result["behaviorClose"] ?? "?")"
                verdicts[verdict, default: 0] += 1
                #expect(["OK", "NON-STRICT", "INFORMATIONAL"].contains(result["behavior"] as? String)
                        && ["OK", "INFORMATIONAL"].contains(result["behaviorClose"] as? String), "case \(id): \(verdict)")
            }
        }
        print("Autobahn \(selection.joined(separator: " ")): \(verdicts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))")
    }

    /// A reload replaces the workers: their WebSockets get graceful_timeout, then 1012 (service
    /// restart), and the client reconnects to the new generation. A stop closes them with 1001.
    @Test func reloadClosesWith1012AndAStopWith1001() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let daemon = try CorraldProcess(["-w", "1", "-k", "asgi", "--chdir", directory, "--virtualenv", WSGIApps.virtualenv,
                                         "--graceful-timeout", "2", "websocket_apps:echo"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let held = scratch.file("held")
        _ = shell("cd \(shellQuoted(directory)) && (\(WSGIApps.virtualenv)/bin/python ws_client.py hold ws://127.0.0.1:\(daemon.port)/ > \(held) 2>&1 &)")
        func heard() -> String { (try? String(contentsOfFile: held, encoding: .utf8)) ?? "" }
        #expect(eventually { heard().contains("open") }, "\(heard())")
        daemon.signal(SIGHUP)
        #expect(eventually(timeout: 15) { heard().contains("reconnected again") }, "\(heard())\n\(daemon.log)")
        #expect(heard().contains("closed 1012 service restart"), "\(heard())")
        #expect(daemon.log.contains("closing 1 WebSocket(s) with 1012 (service restart)"), "\(daemon.log)")

        let stopped = scratch.file("stopped")
        _ = shell("cd \(shellQuoted(directory)) && (\(WSGIApps.virtualenv)/bin/python ws_client.py hold ws://127.0.0.1:\(daemon.port)/ > \(stopped) 2>&1 &)")
        #expect(eventually { ((try? String(contentsOfFile: stopped, encoding: .utf8)) ?? "").contains("open") })
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit() == 0, "\(daemon.log)")
        #expect(eventually { ((try? String(contentsOfFile: stopped, encoding: .utf8)) ?? "").contains("closed 1001 going away") },
                "\((try? String(contentsOfFile: stopped, encoding: .utf8)) ?? "")")
    }

    // MARK: Raw frames

    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let handshake = "GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: \(key)\r\n\r\n"

    struct Frame {
        var opcode: UInt8
        var payload: [UInt8]
        var closeCode: UInt16? { opcode == 0x8 && payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil }
    }

    /// A client frame: masked, as a client must.
    static func frame(_ opcode: UInt8, _ payload: [UInt8], final: Bool = true) -> [UInt8] {
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        var bytes: [UInt8] = [(final ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        bytes += mask
        bytes += payload.enumerated().map { $0.element ^ mask[$0.offset & 3] }
        return bytes
    }

    /// Sends `request` then `bytes`, reads until the server closes (answering its close frame as
    /// a client does): the head, and the body or the frames after a 101.
    private func raw(_ port: UInt16, _ request: String, then bytes: [UInt8] = []) throws -> (head: String, body: String, frames: [Frame]) {
        let client = try RawClient(port: port)
        client.send(Array(request.utf8) + bytes)
        var all: [UInt8] = []
        var head: String?
        var frames: [Frame] = []
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(client.fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            all += buffer[..<n]
            if head == nil, let end = all.indices.first(where: { all[$0...].starts(with: [13, 10, 13, 10]) }) {
                head = String(decoding: all[..<end], as: UTF8.self)
                offset = end + 4
            }
            guard let head, head.hasPrefix("HTTP/1.1 101") else { continue }
            while offset + 2 <= all.count {
                var length = Int(all[offset + 1] & 0x7F), start = offset + 2
                if length == 126 {
                    guard start + 2 <= all.count else { break }
                    length = Int(all[offset + 2]) << 8 | Int(all[offset + 3]); start += 2
                } else if length == 127 {
                    guard start + 8 <= all.count else { break }
                    length = (0..<8).reduce(0) { $0 << 8 | Int(all[offset + 2 + $1]) }; start += 8
                }
                guard start + length <= all.count else { break }
                let frame = Frame(opcode: all[offset] & 0x0F, payload: Array(all[start..<start + length]))
                frames.append(frame)
                offset = start + length
                if frame.opcode == 0x8 { client.send(Self.frame(0x8, Array(frame.payload.prefix(2)))) }
            }
        }
        guard let head else { return (String(decoding: all, as: UTF8.self), "", []) }
        let rest = all[(all.indices.first(where: { all[$0...].starts(with: [13, 10, 13, 10]) })! + 4)...]
        return (head, String(decoding: rest, as: UTF8.self), frames)
    }
}

/// Flask apps add WebSockets with libraries that speak the protocol on the server's socket
/// (flask-sock, Flask-SocketIO through simple-websocket), as under gunicorn: corral-python hands
/// the connection over, in threads and gevent modes, and forgets it; the access log keeps its line.
@Suite(.serialized) struct WSGIWebSocketTests {
    @Test(arguments: [["-k", "gthread", "--threads", "4"], ["-k", "gevent"]])
    func flaskSockAndFlaskSocketIO(mode: [String]) throws {
        // timeout 2: a WebSocket quiet for longer is not a hung request.
        let worker = try WSGIApps.worker("websocket_app:app", mode + ["--timeout", "2", "--access-logfile", "-"],
                                         environment: ["SOCKETIO_ASYNC_MODE": mode[1] == "gevent" ? "gevent" : "threading"])
        func client(_ arguments: String) -> String {
            shell("cd \(shellQuoted(WSGIApps.directory)) && \(WSGIApps.virtualenv)/bin/python ws_wsgi_client.py \(arguments) 2>&1").output
        }
        let sock = client("sock \(worker.port) 3")
        #expect(sock == "flask-sock: one\nflask-sock: two\nclosed 1000 see you\n", "\(sock)\n\(worker.log)")
        let socketio = client("socketio \(worker.port)")
        #expect(socketio.contains("transport websocket\nheard HELLO SOCKETIO"), "\(socketio)\n\(worker.log)")
        #expect(eventually { worker.log.contains("\"GET /echo HTTP/1.1\" 101 0") }, "\(worker.log)")
        #expect(worker.log.contains("\"GET /socket.io/?transport=websocket"), "\(worker.log)")
        #expect(!worker.log.contains("ran past timeout") && !worker.log.contains("Error handling"), "\(worker.log)")
        #expect(try request(port: worker.port, "GET", "/")?.text == "plain flask")
    }

    /// A reload gives a flask-sock WebSocket the engine's close frame (1012) at the end of
    /// graceful_timeout: the library answers the client's close, the view returns, and the client
    /// reconnects to the new generation; it does not see the connection simply drop.
    @Test func aReloadClosesTakenWebSocketsWith1012() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let daemon = try CorraldProcess(["-w", "1", "-k", "gthread", "--threads", "4", "--chdir", WSGIApps.directory,
                                         "--virtualenv", WSGIApps.virtualenv, "--graceful-timeout", "2", "websocket_app:app"],
                                        environment: ["SOCKETIO_ASYNC_MODE": "threading"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let held = scratch.file("held")
        let client = WSGIApps.repository.appendingPathComponent("tests/asgi/ws_client.py").path
        _ = shell("(\(WSGIApps.virtualenv)/bin/python \(client) hold ws://127.0.0.1:\(daemon.port)/echo > \(held) 2>&1 &)")
        func heard() -> String { (try? String(contentsOfFile: held, encoding: .utf8)) ?? "" }
        #expect(eventually { heard().contains("open") }, "\(heard())")
        daemon.signal(SIGHUP)
        #expect(eventually(timeout: 15) { heard().contains("reconnected flask-sock: again") }, "\(heard())\n\(daemon.log)")
        #expect(heard().contains("closed 1012 service restart"), "\(heard())")
        #expect(daemon.log.contains("closing 1 WebSocket(s) with 1012 (service restart)"), "\(daemon.log)")
    }
}
