import CorralHTTP
import CorralWSGI
import Testing

/// Parses `raw` with the engine's parser and builds its ASGI scope, as corral-python does.
private func scope(_ raw: String, rootPath: String = "", clientPort: Int? = 54321) throws -> ASGIScope {
    var parser = RequestParser(limits: HTTPLimits())
    var table = [HeaderField](repeating: HeaderField(name: .empty, value: .empty), count: 100)
    var result = ASGIScope()
    let settings = try WSGISettings(scriptName: rootPath)
    try Array(raw.utf8).withUnsafeBytes { bytes in
        try table.withUnsafeMutableBufferPointer { fields in
            guard case .complete(let head) = parser.parseHead(bytes, fields: fields) else {
                throw WSGISettingError("the test request did not parse")
            }
            Array("127.0.0.1".utf8).withUnsafeBytes { client in
                result.build(head: head, buffer: bytes, fields: UnsafeBufferPointer(rebasing: fields[..<head.fieldCount]),
                             clientAddress: client, clientPort: clientPort, isSecure: false, server: ("10.0.0.1", 8000),
                             settings: settings)
            }
        }
    }
    return result
}

private extension ASGIScope {
    func text(_ span: Span) -> String { withBytes(span) { String(decoding: $0, as: UTF8.self) } }
    var headerPairs: [[String]] { headers.map { [text($0.name), text($0.value)] } }
}

@Suite struct ASGIScopeTests {
    @Test func pathsQueryAndHeaders() throws {
        let s = try scope("POST /caf%C3%A9/a%2Fb?q=%20x HTTP/1.0\r\nHost: h\r\nX-Twice: 1\r\nx-twice: 2\r\nX_Under: u\r\nContent-Length: 3\r\n\r\n")
        #expect(s.text(s.method) == "POST" && s.version == .http1_0 && s.hasBody)
        #expect(s.text(s.path) == "/café/a/b", "percent-decoded, UTF-8")
        #expect(s.text(s.rawPath) == "/caf%C3%A9/a%2Fb", "as sent")
        #expect(s.text(s.query) == "q=%20x")
        #expect(s.headerPairs == [["host", "h"], ["x-twice", "1"], ["x-twice", "2"], ["x_under", "u"], ["content-length", "3"]])
        #expect(s.client.map { s.text($0.host) } == "127.0.0.1" && s.client?.port == 54321)
        #expect(s.server.map { s.text($0.host) } == "10.0.0.1" && s.server?.port == 8000)
    }

    @Test func rootPathIsPartOfThePath() throws {
        let under = try scope("GET /api/items HTTP/1.1\r\nHost: h\r\n\r\n", rootPath: "/api")
        #expect(under.text(under.path) == "/api/items" && under.text(under.rawPath) == "/api/items")
        // A proxy stripped the prefix: it is put back, in path and raw_path (as uvicorn does).
        let stripped = try scope("GET /items HTTP/1.1\r\nHost: h\r\n\r\n", rootPath: "/api")
        #expect(stripped.text(stripped.path) == "/api/items" && stripped.text(stripped.rawPath) == "/api/items")
        // Only at a segment boundary: /apix is not under /api.
        let similar = try scope("GET /apix HTTP/1.1\r\nHost: h\r\n\r\n", rootPath: "/api")
        #expect(similar.text(similar.path) == "/api/apix")
        let asterisk = try scope("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(asterisk.text(asterisk.path).isEmpty && !asterisk.hasBody)
        // A unix socket peer: no client.
        #expect(try scope("GET / HTTP/1.1\r\nHost: h\r\n\r\n", clientPort: nil).client == nil)
    }
}
