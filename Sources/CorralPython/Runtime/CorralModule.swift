import CCorral
import CPython
import CorralServer
import Glibc

typealias PyRef = UnsafeMutablePointer<PyObject>
typealias PyArguments = UnsafePointer<PyRef?>?

/// The `_corral` module: what the Python runtime (corral_runtime.py) calls to take requests and
/// answer them. Posting never blocks; `take_reply` waits for the loop's answer with the GIL
/// released (threads mode), or returns None when it has not come and the answer arrives
/// through `poll()` on the hub (gevent mode).
enum CorralModule {
    nonisolated(unsafe) static var bridge: WSGIBridge!
    nonisolated(unsafe) static var log: ErrorLog!
    nonisolated(unsafe) static var timeoutSeconds = 0.0
    nonisolated(unsafe) private static var baseEnviron: PyRef?
    nonisolated(unsafe) private static var clientGone: PyRef?

    /// Creates `_corral` and puts it in sys.modules (call with the GIL held, before the runtime).
    static func install() throws(PythonError) {
        guard let module = PyModule_New("_corral") else { throw PythonError.fetch() }
        let functions: [(String, corral_py_fastcall)] = [
            ("setup", setup), ("next_request", nextRequest), ("poll", poll), ("event_fd", eventFD), ("interrupted", interrupted),
            ("read_body", readBody), ("respond", respond), ("send", send), ("finish", finish), ("take_reply", takeReply),
            ("send_file", sendFile), ("fail", fail), ("log", logLine), ("next_overdue", nextOverdue),
            ("thread_started", threadStarted), ("thread_exited", threadExited), ("unblock_signals", unblockSignals),
            ("ws_accept", webSocketAccept), ("ws_send", webSocketSend), ("ws_close", webSocketClose),
            ("ws_taken", webSocketTaken), ("ws_flush", webSocketFlush), ("connection_fd", connectionFD), ("hand_over", handOver),
            ("early_hint", earlyHint), ("trailers", trailers), ("head", head),
        ]
        for (name, body) in functions {
            guard let function = corral_py_function(strdup(name), body),
                  PyModule_AddObject(module, name, function) == 0 else { throw PythonError.fetch() }
        }
        guard PyDict_SetItemString(PyImport_GetModuleDict(), "_corral", module) == 0 else { throw PythonError.fetch() }
    }

    // MARK: Conversions

    private static func argument(_ args: PyArguments, _ index: Int) -> PyRef { args![index]! }

    private static func integer(_ args: PyArguments, _ index: Int) -> Int { PyLong_AsLong(argument(args, index)) }

    private static func exchange(_ args: PyArguments) -> Exchange? {
        guard let exchange = bridge.exchange(integer(args, 0)) else {
            PyErr_SetString(corral_py_value_error(), "no such request")
            return nil
        }
        return exchange
    }

    static func string(_ object: PyRef) -> String? {
        var length = 0
        guard let text = PyUnicode_AsUTF8AndSize(object, &length) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// Text for the log: what cannot be UTF-8 (lone surrogates, from undecodable file names)
    /// is written as backslash escapes rather than failing.
    static func logText(_ object: PyRef) -> String? {
        if let text = string(object) { return text }
        PyErr_Clear()
        guard let encoded = PyUnicode_AsEncodedString(object, "utf-8", "backslashreplace") else { return nil }
        defer { corral_py_decref(encoded) }
        return bytes(encoded).map { String(decoding: $0, as: UTF8.self) }
    }

    private static func bytes(_ object: PyRef) -> [UInt8]? {
        var pointer: UnsafeMutablePointer<CChar>?
        var length = 0
        guard PyBytes_AsStringAndSize(object, &pointer, &length) == 0 else { return nil }
        return Array(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// An app's header fields in the worker's form (str pairs for WSGI, byte pairs for ASGI).
    private static func headers(_ object: PyRef) -> HTTPFields? {
        AppHeaders.fields(object, form: headerForm)?.fields
    }

    private static var headerForm: AppHeaders.Form { bridge.mode == .asgi ? .asgi : .wsgi }

    /// A status and header fields as the app gave them, checked.
    private static func appHead(_ status: PyRef, _ fields: PyRef) -> AppHead? {
        guard let code = self.status(status),
              let checked = AppHeaders.fields(fields, form: headerForm) else { return nil }
        return AppHead(status: code, fields: checked.fields, contentLength: checked.contentLength)
    }

    /// A status as the app gave it: ASGI's int, or WSGI's "200 OK" (the runtime has checked its form).
    private static func status(_ object: PyRef) -> UInt16? {
        if corral_py_is_int(object) != 0 { return UInt16(clamping: PyLong_AsLong(object)) }
        guard let text = string(object), let code = UInt16(text.prefix(3)) else { return nil }
        return code
    }

    /// The head a respond or send_file sends: the one `head()` kept when both are None.
    private static func sentHead(_ args: PyArguments, _ exchange: Exchange) -> AppHead? {
        let status = argument(args, 1), fields = argument(args, 2)
        if status == corral_py_none_borrowed() && fields == corral_py_none_borrowed() {
            guard let kept = exchange.appHead else {
                PyErr_SetString(corral_py_value_error(), "no response head was given")
                return nil
            }
            return kept
        }
        return appHead(status, fields)
    }

    private static func environ(for exchange: Exchange) -> PyRef? {
        guard let environ = PyDict_Copy(baseEnviron) else { return nil }
        var failed = false
        exchange.environ.forEach { key, value in
            guard !failed else { return }
            let keyObject = PyUnicode_FromStringAndSize(key.baseAddress?.assumingMemoryBound(to: CChar.self), key.count)
            let valueObject = value.isEmpty ? PyUnicode_FromStringAndSize(nil, 0)
                : PyUnicode_DecodeLatin1(value.baseAddress!.assumingMemoryBound(to: CChar.self), value.count, nil)
            if let keyObject, let valueObject { failed = PyDict_SetItem(environ, keyObject, valueObject) != 0 } else { failed = true }
            corral_py_xdecref(keyObject)
            corral_py_xdecref(valueObject)
        }
        if failed {
            corral_py_decref(environ)
            return nil
        }
        return environ
    }

    /// (token, serial, environ, has_body): `serial` tells this request from a later one in the
    /// same slot (a late reply, or the monitor's report of a request that has ended).
    private static func requestTuple(_ exchange: Exchange) -> PyRef? {
        let request = bridge.mode == .asgi ? ScopeObject.make(exchange.scope, rootPath: bridge.settings.scriptName)
            : environ(for: exchange)
        guard let request else { return nil }
        let tuple = PyTuple_New(4)!
        PyTuple_SetItem(tuple, 0, PyLong_FromLong(exchange.token))
        PyTuple_SetItem(tuple, 1, PyLong_FromLong(exchange.serial))
        PyTuple_SetItem(tuple, 2, request)
        PyTuple_SetItem(tuple, 3, corral_py_bool(exchange.hasBody ? 1 : 0))
        return tuple
    }

    private static func object(for reply: Exchange.ToPython) -> PyRef? {
        switch reply {
        case .body(let bytes):
            return bytes.withUnsafeBytes { PyBytes_FromStringAndSize($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        case .written:
            return corral_py_bool(1)
        case .cut:
            return corral_py_bool(0)
        case .failed(let reason):
            PyErr_SetString(clientGone, reason)
            return nil
        }
    }

    // MARK: Functions

    /// Posts `message` to the exchange `args[0]` names; nil (a Python error) when either is not
    /// there (the message's argument was not what it must be).
    private static func post(_ args: PyArguments, _ message: @autoclosure () -> Exchange.ToLoop?) -> PyRef? {
        guard let exchange = exchange(args), let message = message() else { return nil }
        exchange.post(message)
        return corral_py_none()
    }

    private static let setup: corral_py_fastcall = { _, args, count in
        guard count == 2 else { return nil }
        baseEnviron = argument(args, 0)
        clientGone = argument(args, 1)
        corral_py_incref(baseEnviron!)
        corral_py_incref(clientGone!)
        return corral_py_none()
    }

    private static let nextRequest: corral_py_fastcall = { _, _, _ in
        let state = PyEval_SaveThread()
        let exchange = bridge.nextRequest()
        PyEval_RestoreThread(state)
        guard let exchange else { return corral_py_none() }
        return requestTuple(exchange)
    }

    /// gevent and asgi modes: [(kind, token, serial, value)]: REQUEST handle()'s arguments, REPLY
    /// value, FAILED reason, SHUTDOWN None; an accepted WebSocket's MESSAGE (bytes, or str for
    /// text), CLOSED (code, reason), DRAINED None; DISCONNECTED None (the kinds' numbers are
    /// corral_runtime.py's).
    private static let poll: corral_py_fastcall = { _, _, _ in
        let events = bridge.takeEvents()
        let list = PyList_New(0)!
        for event in events {
            let item: PyRef?
            switch event {
            case .request(let token):
                let exchange = bridge.exchange(token)!
                guard let request = requestTuple(exchange) else { corral_py_decref(list); return nil }
                item = pollItem(0, token, exchange.serial, request)
            case .reply(let token, let serial, .failed(let reason)):
                item = pollItem(2, token, serial, PyUnicode_FromString(reason))
            case .reply(let token, let serial, let reply):
                item = pollItem(1, token, serial, object(for: reply))
            case .shutdown:
                item = pollItem(3, 0, 0, corral_py_none())
            case .webSocket(let token, let serial, let event):
                item = webSocketItem(token, serial, event)
            case .disconnected(let token, let serial):
                item = pollItem(7, token, serial, corral_py_none())
            }
            PyList_Append(list, item)
            corral_py_xdecref(item)
        }
        return list
    }

    private static func pollItem(_ kind: Int, _ token: Int, _ serial: Int, _ value: PyRef?) -> PyRef {
        let tuple = PyTuple_New(4)!
        PyTuple_SetItem(tuple, 0, PyLong_FromLong(kind))
        PyTuple_SetItem(tuple, 1, PyLong_FromLong(token))
        PyTuple_SetItem(tuple, 2, PyLong_FromLong(serial))
        PyTuple_SetItem(tuple, 3, value ?? corral_py_none())
        return tuple
    }

    private static func webSocketItem(_ token: Int, _ serial: Int, _ event: WSGIBridge.WebSocketEvent) -> PyRef? {
        switch event {
        case .message(let kind, let bytes):
            let value = bytes.withUnsafeBytes { raw -> PyRef? in
                let start = raw.baseAddress?.assumingMemoryBound(to: CChar.self)
                // Text is valid UTF-8: the engine checked it as it arrived.
                return kind == .text ? PyUnicode_DecodeUTF8(start, raw.count, nil) : PyBytes_FromStringAndSize(start, raw.count)
            }
            return pollItem(4, token, serial, value)
        case .closed(let code, let reason):
            let pair = PyTuple_New(2)!
            PyTuple_SetItem(pair, 0, PyLong_FromLong(Int(code)))
            PyTuple_SetItem(pair, 1, PyUnicode_FromString(reason))
            return pollItem(5, token, serial, pair)
        case .drained:
            return pollItem(6, token, serial, corral_py_none())
        }
    }

    private static let eventFD: corral_py_fastcall = { _, _, _ in PyLong_FromLong(Int(bridge.eventFD)) }

    private static let interrupted: corral_py_fastcall = { _, _, _ in corral_py_bool(bridge.interrupted ? 1 : 0) }

    private static let readBody: corral_py_fastcall = { _, args, _ in post(args, .readBody) }

    /// take_reply(token): the reply to the last call that has one (see Exchange.takeReply);
    /// ClientGone raised for a failure.
    private static let takeReply: corral_py_fastcall = { _, args, _ in
        guard let exchange = exchange(args) else { return nil }
        let reply: Exchange.ToPython?
        if bridge.mode == .threads {
            let state = PyEval_SaveThread()
            reply = exchange.takeReply(wait: true)
            PyEval_RestoreThread(state)
        } else {
            reply = exchange.takeReply(wait: false)
        }
        guard let reply else { return corral_py_none() }
        return object(for: reply)
    }

    /// head(token, status, headers): the head of the response the app gives (WSGI's
    /// start_response, ASGI's http.response.start), checked now, so a bad one raises where the
    /// app gave it, and kept for the respond or send_file that sends it (with None for both).
    /// Returns its Content-Length, or None.
    private static let head: corral_py_fastcall = { _, args, count in
        guard count == 3, let exchange = exchange(args), let head = appHead(argument(args, 1), argument(args, 2)) else { return nil }
        exchange.appHead = head
        return head.contentLength.map { PyLong_FromLong($0) } ?? corral_py_none()
    }

    /// respond(token, status, headers, body, final); None for both status and headers: what `head` kept.
    private static let respond: corral_py_fastcall = { _, args, count in
        guard count == 5, let exchange = exchange(args), let head = sentHead(args, exchange),
              let body = bytes(argument(args, 3)) else { return nil }
        let final = PyObject_IsTrue(argument(args, 4)) == 1
        exchange.post(.respond(head: head, body: body, final: final))
        return corral_py_none()
    }

    private static let send: corral_py_fastcall = { _, args, _ in post(args, bytes(argument(args, 1)).map { .chunk($0) }) }

    private static let finish: corral_py_fastcall = { _, args, _ in post(args, .finish) }

    /// send_file(token, status, headers, fd, offset, count): the loop owns `fd` from here on.
    private static let sendFile: corral_py_fastcall = { _, args, count in
        guard count == 6, let exchange = exchange(args), let head = sentHead(args, exchange) else { return nil }
        exchange.post(.file(head: head, fd: Int32(integer(args, 3)),
                            offset: integer(args, 4), count: integer(args, 5)))
        return corral_py_none()
    }

    private static let fail: corral_py_fastcall = { _, args, _ in
        guard let exchange = exchange(args), let text = logText(argument(args, 1)) else { return nil }
        exchange.post(.fail(text))
        return corral_py_none()
    }

    /// log(level, text): the syslog level numbers the error log uses.
    private static let logLine: corral_py_fastcall = { _, args, _ in
        guard let text = logText(argument(args, 1)) else { return nil }
        log.log(ErrorLog.Level(rawValue: integer(args, 0)) ?? .error, text)
        return corral_py_none()
    }

    /// (token, serial, timeout seconds) of a request past its timeout, blocking; None at shutdown.
    private static let nextOverdue: corral_py_fastcall = { _, _, _ in
        let state = PyEval_SaveThread()
        let overdue = bridge.nextOverdue()
        PyEval_RestoreThread(state)
        guard let overdue else { return corral_py_none() }
        let tuple = PyTuple_New(3)!
        PyTuple_SetItem(tuple, 0, PyLong_FromLong(overdue.token))
        PyTuple_SetItem(tuple, 1, PyLong_FromLong(overdue.serial))
        PyTuple_SetItem(tuple, 2, PyFloat_FromDouble(timeoutSeconds))
        return tuple
    }

    /// ws_accept(token, subprotocol or None, headers): the handshake's 101.
    private static let webSocketAccept: corral_py_fastcall = { _, args, count in
        guard count == 3, let exchange = exchange(args) else { return nil }
        let chosen = argument(args, 1)
        let subprotocol = chosen == corral_py_none_borrowed() ? nil : string(chosen)
        if subprotocol == nil && chosen != corral_py_none_borrowed() { return nil }
        guard let headers = headers(argument(args, 2)) else { return nil }
        exchange.post(.acceptWebSocket(subprotocol: subprotocol, headers: headers))
        return corral_py_none()
    }

    /// ws_send(token, data): bytes go as a binary message, str as text.
    private static let webSocketSend: corral_py_fastcall = { _, args, _ in
        guard let exchange = exchange(args) else { return nil }
        let data = argument(args, 1)
        if corral_py_is_bytes(data) != 0 {
            guard let payload = bytes(data) else { return nil }
            exchange.post(.sendMessage(.binary, payload))
        } else {
            var length = 0
            guard let text = PyUnicode_AsUTF8AndSize(data, &length) else { return nil }
            exchange.post(.sendMessage(.text, Array(UnsafeRawBufferPointer(start: text, count: length))))
        }
        return corral_py_none()
    }

    /// ws_close(token, code, reason)
    private static let webSocketClose: corral_py_fastcall = { _, args, count in
        guard count == 3, let exchange = exchange(args), let reason = string(argument(args, 2)) else { return nil }
        exchange.post(.closeWebSocket(code: UInt16(truncatingIfNeeded: integer(args, 1)), reason: reason))
        return corral_py_none()
    }

    /// ws_taken(token, count): the app took `count` messages.
    private static let webSocketTaken: corral_py_fastcall = { _, args, _ in post(args, .messagesTaken(integer(args, 1))) }

    private static let webSocketFlush: corral_py_fastcall = { _, args, _ in post(args, .flushWebSocket) }

    /// connection_fd(token): a copy of the connection's socket (close-on-exec), for the app to take.
    private static let connectionFD: corral_py_fastcall = { _, args, _ in
        guard let exchange = exchange(args) else { return nil }
        let copy = fcntl(exchange.socketDescriptor, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else {
            PyErr_SetString(clientGone, "the connection is gone")
            return nil
        }
        return PyLong_FromLong(Int(copy))
    }

    /// hand_over(token): the app took the connection; what it posts from here on is not sent.
    private static let handOver: corral_py_fastcall = { _, args, _ in post(args, .handOver) }

    /// early_hint(token, headers): a 103 with these fields (the Link ones), before the response.
    private static let earlyHint: corral_py_fastcall = { _, args, _ in post(args, headers(argument(args, 1)).map { .earlyHint($0) }) }

    /// trailers(token, headers): the fields a chunked response ends with.
    private static let trailers: corral_py_fastcall = { _, args, _ in post(args, headers(argument(args, 1)).map { .trailers($0) }) }

    private static let threadStarted: corral_py_fastcall = { _, _, _ in
        bridge.threadStarted()
        return corral_py_none()
    }

    /// In a thread of the runtime's: the worker's signals unblocked (they are sent on to the
    /// loop thread), so the processes the app starts from here inherit none blocked.
    private static let unblockSignals: corral_py_fastcall = { _, _, _ in
        corral_unblock_forwarded_signals()
        return corral_py_none()
    }

    private static let threadExited: corral_py_fastcall = { _, _, _ in
        bridge.threadExited()
        return corral_py_none()
    }
}
