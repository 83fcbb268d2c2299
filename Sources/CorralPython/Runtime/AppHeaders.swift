import CPython
import CorralServer

/// A response head an app gave, checked: its status, fields, and the Content-Length among them.
struct AppHead {
    let status: UInt16
    let fields: HTTPFields
    /// The first Content-Length given as digits (what PEP 3333 holds the body to).
    let contentLength: Int?
}

/// The header fields an app answers with (WSGI's list of str pairs, ASGI's iterable of byte
/// pairs), checked as gunicorn checks them: a malformed one is refused (CR or LF could split the
/// response), the hop-by-hop ones (Connection, Keep-Alive…) are left out and values lose their
/// surrounding spaces and tabs (Django's Set-Cookie has a leading one). A refusal is the app's
/// error, raised from the call that gave them (TypeError or ValueError).
enum AppHeaders {
    enum Form {
        /// PEP 3333: a list of (name, value) tuples of str, latin-1 text.
        case wsgi
        /// asgiref: an iterable of [name, value] pairs of bytes.
        case asgi
    }

    private static let hopByHop: [[UInt8]] = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                                              "te", "trailers", "transfer-encoding", "upgrade"].map { Array($0.utf8) }
    private static let contentLength = Array("content-length".utf8)

    /// The fields, and the first Content-Length given as digits; nil with the Python error set.
    static func fields(_ object: PyRef, form: Form) -> (fields: HTTPFields, contentLength: Int?)? {
        if form == .wsgi && corral_py_is_list(object) == 0 {
            return refuse(corral_py_type_error(), "headers must be a list, not \(typeName(object))")
        }
        guard let sequence = PySequence_Fast(object, "ASGI headers must be an iterable of [name, value] byte pairs") else {
            return nil
        }
        defer { corral_py_decref(sequence) }
        var fields = HTTPFields()
        var declared: Int?
        let items = corral_py_fast_items(sequence)   // (NULL for an empty list)
        for index in 0..<corral_py_fast_size(sequence) {
            let pair = items![index]!
            guard let (name, value) = parts(of: pair, form: form) else { return nil }
            defer { corral_py_decref(name.owner); corral_py_decref(value.owner) }
            guard let field = checked(name.bytes, value.bytes, pair: pair) else { return nil }
            if isOne(of: hopByHop, field.name) { continue }
            if declared == nil, matches(contentLength, field.name), !field.value.isEmpty,
               field.value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
                declared = Int(String(decoding: field.value, as: UTF8.self))
            }
            guard let nameText = text(field.name), let valueText = text(field.value) else { return nil }
            fields.add(nameText, valueText)
        }
        return (fields, declared)
    }

    /// A pair's name and value as bytes, each with the object that owns them (a new reference).
    private static func parts(of pair: PyRef, form: Form)
        -> (name: (owner: PyRef, bytes: UnsafeRawBufferPointer), value: (owner: PyRef, bytes: UnsafeRawBufferPointer))? {
        switch form {
        case .wsgi:
            guard corral_py_is_tuple(pair) != 0, PyTuple_Size(pair) == 2 else {
                return refuse(corral_py_type_error(), "each header must be a (name, value) tuple, got \(repr(pair))")
            }
            let name = PyTuple_GetItem(pair, 0)!, value = PyTuple_GetItem(pair, 1)!
            guard corral_py_is_str(name) != 0, corral_py_is_str(value) != 0 else {
                return refuse(corral_py_type_error(), "header names and values must be str: \(repr(pair))")
            }
            guard let nameBytes = latin1(name) else { return nil }
            guard let valueBytes = latin1(value) else { corral_py_decref(nameBytes.owner); return nil }
            return (nameBytes, valueBytes)
        case .asgi:
            let items = PySequence_Fast(pair, "")
            defer { corral_py_xdecref(items) }
            guard let items, corral_py_fast_size(items) == 2 else {
                PyErr_Clear()
                return refuse(corral_py_type_error(), "ASGI headers must be an iterable of [name, value] byte pairs, got \(repr(pair))")
            }
            let both = corral_py_fast_items(items)!
            guard let name = bytes(both[0]!) else { return nil }
            guard let value = bytes(both[1]!) else { corral_py_decref(name.owner); return nil }
            return (name, value)
        }
    }

    /// The pair checked: the name a token without spaces, colons or controls that split lines,
    /// the value without CR, LF or NUL and trimmed of spaces and tabs.
    private static func checked(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, pair: PyRef)
        -> (name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        guard !name.isEmpty, !name.contains(where: { $0 == 0x20 || $0 == 0x09 || $0 == 0x3A || splitsLines($0) }),
              !value.contains(where: splitsLines) else {
            return refuse(corral_py_value_error(), "invalid header \(repr(pair))")
        }
        var start = 0, end = value.count
        while start < end && (value[start] == 0x20 || value[start] == 0x09) { start += 1 }
        while end > start && (value[end - 1] == 0x20 || value[end - 1] == 0x09) { end -= 1 }
        return (name, UnsafeRawBufferPointer(rebasing: value[start..<end]))
    }

    private static func splitsLines(_ byte: UInt8) -> Bool { byte == 0x0D || byte == 0x0A || byte == 0 }

    /// The engine writes header text as UTF-8: ASCII (nearly every header) as it is, and bytes
    /// above 0x7F only when they are UTF-8 (PEP 3333's way to send it: `'é'.encode().decode('latin-1')`).
    private static func text(_ bytes: UnsafeRawBufferPointer) -> String? {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return refuse(corral_py_value_error(), "header bytes above 0x7F must be UTF-8 to be sent by corral")
    }

    /// A str's latin-1 bytes (one byte a character; a character past U+00FF raises).
    private static func latin1(_ text: PyRef) -> (owner: PyRef, bytes: UnsafeRawBufferPointer)? {
        if corral_py_is_ascii(text) != 0 {
            var length = 0
            guard let start = PyUnicode_AsUTF8AndSize(text, &length) else { return nil }
            corral_py_incref(text)
            return (text, UnsafeRawBufferPointer(start: start, count: length))
        }
        guard let encoded = PyUnicode_AsLatin1String(text) else { return nil }
        return bytes(encoded)
    }

    /// A bytes-like object's bytes (`bytes(object)` for what is not bytes already; not for str
    /// or int, which bytes() would take otherwise).
    private static func bytes(_ object: PyRef) -> (owner: PyRef, bytes: UnsafeRawBufferPointer)? {
        let owner: PyRef
        if corral_py_is_bytes(object) != 0 {
            corral_py_incref(object)
            owner = object
        } else {
            if corral_py_is_str(object) != 0 || corral_py_is_int(object) != 0 {
                return refuse(corral_py_type_error(), "ASGI header names and values must be bytes, got \(repr(object))")
            }
            guard let converted = PyObject_Bytes(object) else { return nil }
            owner = converted
        }
        var pointer: UnsafeMutablePointer<CChar>?
        var length = 0
        PyBytes_AsStringAndSize(owner, &pointer, &length)
        return (owner, UnsafeRawBufferPointer(start: pointer, count: length))
    }

    private static func matches(_ lowercase: [UInt8], _ name: UnsafeRawBufferPointer) -> Bool {
        name.count == lowercase.count && zip(name, lowercase).allSatisfy { ($0 | ($0 &- 0x41 < 26 ? 0x20 : 0)) == $1 }
    }

    private static func isOne(of names: [[UInt8]], _ name: UnsafeRawBufferPointer) -> Bool {
        names.contains { matches($0, name) }
    }

    private static func repr(_ object: PyRef) -> String {
        guard let text = PyObject_Repr(object) else { PyErr_Clear(); return "?" }
        defer { corral_py_decref(text) }
        return CorralModule.string(text) ?? "?"
    }

    private static func typeName(_ object: PyRef) -> String {
        guard let type = PyObject_Type(object) else { return "?" }
        defer { corral_py_decref(type) }
        guard let name = PyObject_GetAttrString(type, "__name__") else { PyErr_Clear(); return "?" }
        defer { corral_py_decref(name) }
        return CorralModule.string(name) ?? "?"
    }

    private static func refuse<T>(_ kind: PyRef, _ message: String) -> T? {
        PyErr_SetString(kind, message)
        return nil
    }
}
