import CXML2
import CorralHTTP

/// A call as it arrives: `supervisor.getProcessInfo("corral:0")`.
public struct XMLRPCCall: Equatable, Sendable {
    public var method: String
    public var params: [XMLRPCValue]

    public init(method: String, params: [XMLRPCValue]) {
        self.method = method
        self.params = params
    }
}

/// An XML-RPC fault: supervisord's integer codes with `NAME: detail` strings.
public struct XMLRPCFault: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int
    public var string: String

    public init(_ code: Int, _ string: String) {
        self.code = code
        self.string = string
    }

    public var description: String { "\(string) (fault \(code))" }
}

/// XML-RPC documents, read with libxml2 (network access, DTDs and so entity expansion are
/// refused: a control message never needs them) and written as text.
public enum XMLRPC {
    /// Reads a `methodCall`; malformed input is reported, never trusted.
    public static func parseCall(_ bytes: [UInt8]) throws(XMLRPCFault) -> XMLRPCCall {
        try withDocument(bytes) { root throws(XMLRPCFault) in
            guard name(of: root) == "methodCall",
                  let methodNode = child(root, "methodName") else { throw malformed("expected <methodCall> with <methodName>") }
            let method = text(of: methodNode).trimmingWhitespace
            guard !method.isEmpty else { throw malformed("empty <methodName>") }
            var params: [XMLRPCValue] = []
            if let list = child(root, "params") {
                for param in elements(list) where name(of: param) == "param" {
                    guard let value = child(param, "value") else { throw malformed("<param> without <value>") }
                    params.append(try self.value(value))
                }
            }
            return XMLRPCCall(method: method, params: params)
        }
    }

    /// Reads a `methodResponse`: the value, or the fault it carries.
    public static func parseResponse(_ bytes: [UInt8]) throws(XMLRPCFault) -> XMLRPCValue {
        try withDocument(bytes) { root throws(XMLRPCFault) in
            guard name(of: root) == "methodResponse" else { throw malformed("expected <methodResponse>") }
            if let fault = child(root, "fault") {
                guard let value = child(fault, "value") else { throw malformed("<fault> without <value>") }
                let detail = try self.value(value)
                throw XMLRPCFault(detail["faultCode"]?.int ?? 0, detail["faultString"]?.string ?? "")
            }
            guard let params = child(root, "params"), let param = child(params, "param"),
                  let value = child(param, "value") else { throw malformed("expected <params><param><value>") }
            return try self.value(value)
        }
    }

    public static func response(_ value: XMLRPCValue) -> String {
        var out = "<?xml version=\"1.0\"?>\n<methodResponse><params><param>"
        value.appendXML(to: &out)
        return out + "</param></params></methodResponse>\n"
    }

    public static func response(_ fault: XMLRPCFault) -> String {
        var out = "<?xml version=\"1.0\"?>\n<methodResponse><fault>"
        XMLRPCValue.struct([("faultCode", .int(fault.code)), ("faultString", .string(fault.string))]).appendXML(to: &out)
        return out + "</fault></methodResponse>\n"
    }

    public static func call(_ method: String, _ params: [XMLRPCValue]) -> String {
        var out = "<?xml version=\"1.0\"?>\n<methodCall><methodName>"
        XMLText.appendEscaped(method, to: &out)
        out += "</methodName><params>"
        for param in params {
            out += "<param>"
            param.appendXML(to: &out)
            out += "</param>"
        }
        return out + "</params></methodCall>\n"
    }

    // MARK: Reading

    private static let initialized: Void = xmlInitParser()

    private static func malformed(_ detail: String) -> XMLRPCFault { XMLRPCFault(Faults.parseError, "PARSE_ERROR: \(detail)") }

    private static func withDocument<T>(_ bytes: [UInt8], _ body: (xmlNodePtr) throws(XMLRPCFault) -> T) throws(XMLRPCFault) -> T {
        _ = initialized
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue)
        let document = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    xmlReadMemory($0, Int32(buffer.count), "rpc.xml", nil, options)
                }
            }
        }
        guard let document else { throw malformed("not well-formed XML") }
        defer { xmlFreeDoc(document) }
        guard document.pointee.intSubset == nil else { throw malformed("DTDs are not accepted") }
        guard let root = xmlDocGetRootElement(document) else { throw malformed("no root element") }
        return try body(root)
    }

    private static func value(_ node: xmlNodePtr) throws(XMLRPCFault) -> XMLRPCValue {
        guard let typed = elements(node).first else { return .string(text(of: node)) }   // untyped: a string
        let content = text(of: typed)
        switch name(of: typed) {
        case "string": return .string(content)
        case "int", "i4", "i8":
            guard let number = Int(content.trimmingWhitespace) else { throw malformed("bad <int> \(content)") }
            return .int(number)
        case "boolean":
            switch content.trimmingWhitespace {
            case "1": return .bool(true)
            case "0": return .bool(false)
            default: throw malformed("bad <boolean> \(content)")
            }
        case "double":
            guard let number = Double(content.trimmingWhitespace) else { throw malformed("bad <double> \(content)") }
            return .double(number)
        case "array":
            guard let data = child(typed, "data") else { throw malformed("<array> without <data>") }
            var items: [XMLRPCValue] = []
            for item in elements(data) where name(of: item) == "value" { items.append(try value(item)) }
            return .array(items)
        case "struct":
            var members: [(String, XMLRPCValue)] = []
            for member in elements(typed) where name(of: member) == "member" {
                guard let nameNode = child(member, "name"), let valueNode = child(member, "value") else {
                    throw malformed("<member> needs <name> and <value>")
                }
                members.append((text(of: nameNode), try value(valueNode)))
            }
            return .struct(members)
        case let other:
            throw malformed("unsupported type <\(other)>")
        }
    }

    private static func name(of node: xmlNodePtr) -> String {
        node.pointee.name.map { String(cString: $0) } ?? ""
    }

    private static func elements(_ node: xmlNodePtr) -> [xmlNodePtr] {
        var result: [xmlNodePtr] = []
        var current = node.pointee.children
        while let child = current {
            if child.pointee.type == XML_ELEMENT_NODE { result.append(child) }
            current = child.pointee.next
        }
        return result
    }

    private static func child(_ node: xmlNodePtr, _ wanted: String) -> xmlNodePtr? {
        elements(node).first { name(of: $0) == wanted }
    }

    /// The text directly inside an element (entity references never appear: no DTD).
    private static func text(of node: xmlNodePtr) -> String {
        var bytes: [UInt8] = []
        var current = node.pointee.children
        while let child = current {
            if child.pointee.type == XML_TEXT_NODE || child.pointee.type == XML_CDATA_SECTION_NODE, let content = child.pointee.content {
                var pointer = content
                while pointer.pointee != 0 {
                    bytes.append(pointer.pointee)
                    pointer += 1
                }
            }
            current = child.pointee.next
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
