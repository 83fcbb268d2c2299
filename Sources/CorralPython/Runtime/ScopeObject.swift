import CCorral
import CPython
import CorralWSGI

/// An ASGI HTTP or WebSocket scope as the Python dict the app receives, from the bytes `ASGIScope` computed
/// on the loop thread (the runtime adds `state`).
enum ScopeObject {
    nonisolated(unsafe) private static var constants: (http: PyRef, asgi: PyRef, version10: PyRef, version11: PyRef, version2: PyRef,
                                                       schemeHTTP: PyRef, schemeHTTPS: PyRef, rootPath: PyRef,
                                                       webSocket: PyRef, schemeWS: PyRef, schemeWSS: PyRef)?
    /// The scope's keys, made once (interned, their hashes kept), in `Key` order.
    nonisolated(unsafe) private static var keys: [PyRef] = []

    private enum Key: Int, CaseIterable {
        case type, asgi, httpVersion, scheme, method, rootPath, path, rawPath, queryString, headers, client, server, subprotocols
        case extensions

        var name: String {
            switch self {
            case .type: "type"
            case .asgi: "asgi"
            case .httpVersion: "http_version"
            case .scheme: "scheme"
            case .method: "method"
            case .rootPath: "root_path"
            case .path: "path"
            case .rawPath: "raw_path"
            case .queryString: "query_string"
            case .headers: "headers"
            case .client: "client"
            case .server: "server"
            case .subprotocols: "subprotocols"
            case .extensions: "extensions"
            }
        }
    }

    /// The dict for `scope` (a new reference), or nil with the Python error set. With the GIL.
    static func make(_ scope: ASGIScope, rootPath: String) -> PyRef? {
        if constants == nil {
            let asgi = PyDict_New()!
            PyDict_SetItemString(asgi, "version", PyUnicode_InternFromString("3.0"))
            PyDict_SetItemString(asgi, "spec_version", PyUnicode_InternFromString("2.4"))
            constants = (PyUnicode_InternFromString("http"), asgi, PyUnicode_InternFromString("1.0"),
                         PyUnicode_InternFromString("1.1"), PyUnicode_InternFromString("2"), PyUnicode_InternFromString("http"),
                         PyUnicode_InternFromString("https"), PyUnicode_FromString(rootPath),
                         PyUnicode_InternFromString("websocket"), PyUnicode_InternFromString("ws"), PyUnicode_InternFromString("wss"))
            keys = Key.allCases.map { PyUnicode_InternFromString($0.name) }
        }
        let constant = constants!
        let dict = PyDict_New()!
        var failed = false
        /// Sets `key` to `value`, taking over the reference to `value`.
        func set(_ key: Key, _ value: PyRef?) {
            guard !failed else { corral_py_xdecref(value); return }
            guard let value else { failed = true; return }
            failed = PyDict_SetItem(dict, keys[key.rawValue], value) != 0
            corral_py_decref(value)
        }
        func borrowed(_ value: PyRef) -> PyRef { corral_py_incref(value); return value }
        func bytes(_ span: ASGIScope.Span) -> PyRef? {
            scope.withBytes(span) { PyBytes_FromStringAndSize($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        func latin1(_ span: ASGIScope.Span) -> PyRef? {
            scope.withBytes(span) { PyUnicode_DecodeLatin1($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count, nil) }
        }
        if scope.isWebSocket {
            set(.type, borrowed(constant.webSocket))
            set(.scheme, borrowed(scope.isSecure ? constant.schemeWSS : constant.schemeWS))
            let offered = PyList_New(scope.subprotocols.count)!
            for (index, name) in scope.subprotocols.enumerated() { PyList_SetItem(offered, index, latin1(name)) }
            set(.subprotocols, offered)
        } else {
            set(.type, borrowed(constant.http))
            set(.scheme, borrowed(scope.isSecure ? constant.schemeHTTPS : constant.schemeHTTP))
            set(.method, latin1(scope.method))
        }
        set(.asgi, PyDict_Copy(constant.asgi))
        set(.httpVersion, borrowed(scope.version == .http1_0 ? constant.version10 : scope.version == .http2 ? constant.version2 : constant.version11))
        set(.rootPath, borrowed(constant.rootPath))
        set(.path, scope.withBytes(scope.path) { PyUnicode_DecodeUTF8($0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count, "replace") })
        set(.rawPath, bytes(scope.rawPath))
        set(.queryString, bytes(scope.query))
        let headers = PyList_New(scope.headers.count)!
        for (index, header) in scope.headers.enumerated() {
            let pair = PyTuple_New(2)!
            PyTuple_SetItem(pair, 0, bytes(header.name))
            PyTuple_SetItem(pair, 1, bytes(header.value))
            PyList_SetItem(headers, index, pair)
        }
        set(.headers, headers)
        set(.client, scope.client.map { client in
            let pair = PyTuple_New(2)!
            PyTuple_SetItem(pair, 0, latin1(client.host))
            PyTuple_SetItem(pair, 1, PyLong_FromLong(client.port))
            return pair
        } ?? corral_py_none())
        set(.server, scope.server.map { server in
            let pair = PyTuple_New(2)!
            PyTuple_SetItem(pair, 0, latin1(server.host))
            PyTuple_SetItem(pair, 1, server.port.map { PyLong_FromLong($0) } ?? corral_py_none())
            return pair
        } ?? corral_py_none())
        // ASGI's TLS extension; the runtime adds its own extensions beside it.
        if let tls = scope.tls {
            let entry = PyDict_New()!
            func put(_ key: String, _ value: PyRef?) {
                guard let value else { failed = true; return }
                PyDict_SetItemString(entry, key, value)
                corral_py_decref(value)
            }
            put("server_cert", corral_py_none())
            let chain = PyList_New(0)!
            if let client = tls.clientCertificate, let pem = latin1(client.pem) {
                PyList_Append(chain, pem)
                corral_py_decref(pem)
                put("client_cert_name", latin1(client.subject))
            } else {
                put("client_cert_name", corral_py_none())
            }
            put("client_cert_chain", chain)
            put("client_cert_error", corral_py_none())
            put("tls_version", PyLong_FromLong(tls.version))
            put("cipher_suite", PyLong_FromLong(tls.cipherSuite))
            let extensions = PyDict_New()!
            PyDict_SetItemString(extensions, "tls", entry)
            corral_py_decref(entry)
            set(.extensions, extensions)
        }
        if failed {
            corral_py_decref(dict)
            return nil
        }
        return dict
    }
}
