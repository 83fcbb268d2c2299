/// An XML-RPC value, the subset supervisord and supervisorctl exchange.
public indirect enum XMLRPCValue: Equatable, Sendable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case double(Double)
    case array([XMLRPCValue])
    /// Members in order (XML-RPC structs are ordered on the wire).
    case `struct`([(String, XMLRPCValue)])

    public static func == (a: XMLRPCValue, b: XMLRPCValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.double(let x), .double(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.struct(let x), .struct(let y)): x.elementsEqual(y) { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public var string: String? { if case .string(let value) = self { value } else { nil } }
    public var int: Int? { if case .int(let value) = self { value } else { nil } }
    public var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    public var array: [XMLRPCValue]? { if case .array(let value) = self { value } else { nil } }

    public subscript(member: String) -> XMLRPCValue? {
        if case .struct(let members) = self { members.first { $0.0 == member }?.1 } else { nil }
    }

    /// The value as XML-RPC text. Booleans are 0/1 (supervisorctl rejects `true`).
    public func appendXML(to out: inout String) {
        out += "<value>"
        switch self {
        case .string(let text): out += "<string>"; XMLText.appendEscaped(text, to: &out); out += "</string>"
        case .int(let number): out += "<int>\(number)</int>"
        case .bool(let flag): out += flag ? "<boolean>1</boolean>" : "<boolean>0</boolean>"
        case .double(let number): out += "<double>\(number)</double>"
        case .array(let items):
            out += "<array><data>"
            for item in items { item.appendXML(to: &out) }
            out += "</data></array>"
        case .struct(let members):
            out += "<struct>"
            for (name, value) in members {
                out += "<member><name>"
                XMLText.appendEscaped(name, to: &out)
                out += "</name>"
                value.appendXML(to: &out)
                out += "</member>"
            }
            out += "</struct>"
        }
        out += "</value>"
    }
}

/// Text inside XML elements.
enum XMLText {
    /// Escapes markup and replaces what XML 1.0 forbids even as a character reference (NUL, ESC
    /// and the other C0 controls but TAB, LF and CR; U+FFFE, U+FFFF) with U+FFFD, so log output
    /// never breaks a client's parser.
    static func appendEscaped(_ text: String, to out: inout String) {
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\t", "\n": out.unicodeScalars.append(scalar)
            case "\r": out += "&#13;"
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                out += "\u{FFFD}"
            default: out.unicodeScalars.append(scalar)
            }
        }
    }
}
