@testable import CorralHTTP
import Testing

private func bytesOf(_ text: String) -> [UInt8] { Array(text.utf8) }
private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private let statusDate = "Sat, 28 Nov 2026 15:20:08 GMT"

@Suite struct HTTPStatusTests {
    static let phrases: [(UInt16, String)] = [
        (100, "Continue"), (101, "Switching Protocols"), (102, "Processing"), (103, "Early Hints"),
        (200, "OK"), (201, "Created"), (202, "Accepted"), (203, "Non-Authoritative Information"),
        (204, "No Content"), (205, "Reset Content"), (206, "Partial Content"), (207, "Multi-Status"),
        (208, "Already Reported"), (226, "IM Used"),
        (300, "Multiple Choices"), (301, "Moved Permanently"), (302, "Found"), (303, "See Other"),
        (304, "Not Modified"), (305, "Use Proxy"), (307, "Temporary Redirect"), (308, "Permanent Redirect"),
        (400, "Bad Request"), (401, "Unauthorized"), (402, "Payment Required"), (403, "Forbidden"),
        (404, "Not Found"), (405, "Method Not Allowed"), (406, "Not Acceptable"),
        (407, "Proxy Authentication Required"), (408, "Request Timeout"), (409, "Conflict"), (410, "Gone"),
        (411, "Length Required"), (412, "Precondition Failed"), (413, "Content Too Large"),
        (414, "URI Too Long"), (415, "Unsupported Media Type"), (416, "Range Not Satisfiable"),
        (417, "Expectation Failed"), (421, "Misdirected Request"), (422, "Unprocessable Content"),
        (423, "Locked"), (424, "Failed Dependency"), (425, "Too Early"), (426, "Upgrade Required"),
        (428, "Precondition Required"), (429, "Too Many Requests"), (431, "Request Header Fields Too Large"),
        (451, "Unavailable For Legal Reasons"),
        (500, "Internal Server Error"), (501, "Not Implemented"), (502, "Bad Gateway"),
        (503, "Service Unavailable"), (504, "Gateway Timeout"), (505, "HTTP Version Not Supported"),
        (506, "Variant Also Negotiates"), (507, "Insufficient Storage"), (508, "Loop Detected"),
        (510, "Not Extended"), (511, "Network Authentication Required"),
    ]

    @Test(arguments: phrases)
    func reasonPhrase(_ code: UInt16, _ expected: String) {
        #expect(HTTPStatus.reasonPhrase(code).description == expected)
    }

    /// Unassigned and RFC 9110's reserved "(Unused)" codes.
    @Test(arguments: [0, 1, 99, 104, 199, 209, 299, 306, 309, 399, 418, 420, 427, 430, 499, 509, 599, 600, 999,
                      UInt16.max] as [UInt16])
    func unknown(_ code: UInt16) {
        #expect(HTTPStatus.reasonPhrase(code).description == "Unknown")
    }

    /// Every phrase is a valid `reason-phrase` (HTAB / SP / VCHAR) and the table above is complete.
    @Test func everyCodeHasAValidPhrase() {
        let known = Set(Self.phrases.map(\.0))
        for code in UInt16(0)...999 {
            let phrase = HTTPStatus.reasonPhrase(code)
            let bytes = UnsafeRawBufferPointer(start: phrase.utf8Start, count: phrase.utf8CodeUnitCount)
            #expect(!bytes.isEmpty && bytes.allSatisfy { $0 == 0x20 || (0x21...0x7E).contains($0) })
            #expect((phrase.description != "Unknown") == known.contains(code), "\(code)")
        }
    }
}

// MARK: - ResponseHead (status line and framing use the phrases)

extension HTTPStatusTests {
    @Suite struct ResponseHeadTests {
        private static func start(_ status: UInt16, _ version: HTTPVersion) -> String {
            var out: [UInt8] = []
            bytesOf(statusDate).withUnsafeBytes { ResponseHead.appendStart(status: status, version: version, date: $0, to: &out) }
            return text(out)
        }

        private static func end(_ framing: ResponseHead.Framing, _ version: HTTPVersion, close: Bool) -> String {
            var out: [UInt8] = []
            ResponseHead.appendEnd(framing: framing, version: version, close: close, to: &out)
            return text(out)
        }

        @Test func okWithContentLength() {
            var out: [UInt8] = []
            bytesOf(statusDate).withUnsafeBytes { ResponseHead.appendStart(status: 200, version: .http1_1, date: $0, to: &out) }
            ResponseHead.appendField(name: "Content-Type", value: "text/plain", to: &out)
            ResponseHead.appendEnd(framing: .contentLength(13), version: .http1_1, close: false, to: &out)
            #expect(text(out) == "HTTP/1.1 200 OK\r\nServer: corral\r\nDate: Sat, 28 Nov 2026 15:20:08 GMT\r\n"
                + "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\n")
        }

        @Test func withCachedDate() {
            var cache = HTTPDateCache()
            var out: [UInt8] = []
            cache.withBytes(now: 1_795_879_208) {
                ResponseHead.appendStart(status: 404, version: .http1_1, date: $0, to: &out)
            }
            #expect(text(out) == "HTTP/1.1 404 Not Found\r\nServer: corral\r\nDate: \(statusDate)\r\n")
        }

        @Test func http10KeepAlive() {
            let head = Self.start(200, .http1_0) + Self.end(.contentLength(5), .http1_0, close: false)
            #expect(head == "HTTP/1.0 200 OK\r\nServer: corral\r\nDate: Sat, 28 Nov 2026 15:20:08 GMT\r\n"
                + "Content-Length: 5\r\nConnection: keep-alive\r\n\r\n")
        }

        @Test(arguments: [
            (ResponseHead.Framing.contentLength(0), HTTPVersion.http1_1, false, "Content-Length: 0\r\n\r\n"),
            (.contentLength(13), .http1_1, true, "Content-Length: 13\r\nConnection: close\r\n\r\n"),
            (.contentLength(13), .http1_0, true, "Content-Length: 13\r\nConnection: close\r\n\r\n"),
            (.chunked, .http1_1, false, "Transfer-Encoding: chunked\r\n\r\n"),
            (.chunked, .http1_1, true, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
            (.untilClose, .http1_0, true, "Connection: close\r\n\r\n"),
            (.none, .http1_1, false, "\r\n"),
            (.none, .http1_0, false, "Connection: keep-alive\r\n\r\n"),
        ] as [(ResponseHead.Framing, HTTPVersion, Bool, String)])
        func endOfHead(_ framing: ResponseHead.Framing, _ version: HTTPVersion, _ close: Bool, _ expected: String) {
            #expect(Self.end(framing, version, close: close) == expected)
        }

        @Test(arguments: [
            (404 as UInt16, HTTPVersion.http1_1, "HTTP/1.1 404 Not Found\r\n"),
            (304, .http1_1, "HTTP/1.1 304 Not Modified\r\n"),
            (416, .http1_1, "HTTP/1.1 416 Range Not Satisfiable\r\n"),
            (599, .http1_0, "HTTP/1.0 599 Unknown\r\n"),
        ] as [(UInt16, HTTPVersion, String)])
        func statusLine(_ status: UInt16, _ version: HTTPVersion, _ expected: String) {
            #expect(Self.start(status, version) == expected + "Server: corral\r\nDate: \(statusDate)\r\n")
        }

        @Test(arguments: [
            (200 as UInt16, HTTPMethod.get, false), (200, .head, true), (404, .head, true), (100, .get, true),
            (101, .get, true), (199, .post, true), (204, .get, true), (304, .get, true), (205, .get, false),
            (206, .get, false), (500, .post, false),
        ] as [(UInt16, HTTPMethod, Bool)])
        func bodyless(_ status: UInt16, _ method: HTTPMethod, _ expected: Bool) {
            #expect(ResponseHead.isBodyless(status: status, method: method) == expected)
        }

        @Test(arguments: [
            (0, "0"), (7, "7"), (10, "10"), (1234567890, "1234567890"), (-1, "-1"), (-905, "-905"),
            (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808"),
        ])
        func decimal(_ value: Int, _ expected: String) {
            var out = bytesOf("x")
            ResponseHead.appendDecimal(value, to: &out)
            #expect(text(out) == "x" + expected)
        }

        @Test(arguments: [
            (0, "0"), (9, "9"), (10, "a"), (15, "f"), (16, "10"), (255, "ff"), (4096, "1000"),
            (0x6b0af128, "6b0af128"), (Int.max, "7fffffffffffffff"),
        ])
        func hex(_ value: Int, _ expected: String) {
            var out: [UInt8] = []
            ResponseHead.appendHex(value, to: &out)
            #expect(text(out) == expected)
        }
    }
}
