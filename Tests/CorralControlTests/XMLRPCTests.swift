import Testing
@testable import CorralControl

@Suite struct XMLRPCTests {
    @Test func readsACallAsSupervisorctlSendsIt() throws {
        let text = """
            <?xml version='1.0'?>
            <methodCall>
            <methodName>supervisor.readProcessStdoutLog</methodName>
            <params>
            <param><value><string>corral:0</string></value></param>
            <param><value><int>-1600</int></value></param>
            <param><value><i4>0</i4></value></param>
            <param><value>untyped &amp; escaped</value></param>
            <param><value><array><data><value><boolean>1</boolean></value></data></array></value></param>
            <param><value><struct><member><name>k</name><value><double>1.5</double></value></member></struct></value></param>
            </params>
            </methodCall>
            """
        let call = try XMLRPC.parseCall(Array(text.utf8))
        #expect(call.method == "supervisor.readProcessStdoutLog")
        #expect(call.params == [.string("corral:0"), .int(-1600), .int(0), .string("untyped & escaped"),
                                .array([.bool(true)]), .struct([("k", .double(1.5))])])
    }

    @Test func malformedDocumentsAreFaultsNotCrashes() {
        for text in ["", "<methodCall>", "<other/>", "<methodCall><methodName></methodName></methodCall>",
                     "<methodCall><methodName>x</methodName><params><param><value><int>nan</int></value></param></params></methodCall>",
                     "<methodCall><methodName>x</methodName><params><param><value><base64>AA==</base64></value></param></params></methodCall>"] {
            #expect(throws: XMLRPCFault.self, "\(text)") { try XMLRPC.parseCall(Array(text.utf8)) }
        }
    }

    @Test func entitiesAreNeverExpanded() {
        let laughs = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]><methodCall><methodName>&b;</methodName></methodCall>"
        let external = "<?xml version='1.0'?><!DOCTYPE l [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><methodCall><methodName>&x;</methodName></methodCall>"
        for text in [laughs, external] {
            #expect(throws: XMLRPCFault(Faults.parseError, "PARSE_ERROR: DTDs are not accepted")) { try XMLRPC.parseCall(Array(text.utf8)) }
        }
    }

    @Test func responsesRoundTripAndStayValidXML() throws {
        let value = XMLRPCValue.struct([("text", .string("a < b & \u{1B}[31mred\u{0}\r\n")), ("ok", .bool(false)),
                                         ("items", .array([.int(7), .double(0.25)]))])
        let parsed = try XMLRPC.parseResponse(Array(XMLRPC.response(value).utf8))
        #expect(parsed["text"] == .string("a < b & \u{FFFD}[31mred\u{FFFD}\r\n"), "ESC and NUL replaced, the rest kept")
        #expect(parsed["ok"] == .bool(false) && parsed["items"] == .array([.int(7), .double(0.25)]))
        #expect(XMLRPC.response(.bool(true)).contains("<boolean>1</boolean>"), "supervisorctl needs 0/1")
        #expect(throws: XMLRPCFault(10, "BAD_NAME: x")) {
            try XMLRPC.parseResponse(Array(XMLRPC.response(XMLRPCFault(10, "BAD_NAME: x")).utf8))
        }
        let call = try XMLRPC.parseCall(Array(XMLRPC.call("supervisor.signalProcess", [.string("corral:0"), .string("HUP")]).utf8))
        #expect(call == XMLRPCCall(method: "supervisor.signalProcess", params: [.string("corral:0"), .string("HUP")]))
    }
}
