import CNGHTTP2
@testable import CorralHTTP2
import Testing

/// The server session without sockets: frames in, events out, frames back.
@Suite struct HTTP2SessionTests {
    final class Recorder: HTTP2SessionDelegate {
        var events: [String] = []
        var body: [UInt8] = Array("ok".utf8)

        func streamOpened(_ stream: Int32) { events.append("open \(stream)") }
        func field(_ stream: Int32, name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
            events.append("\(String(decoding: name, as: UTF8.self)): \(String(decoding: value, as: UTF8.self))")
            return true
        }
        func headEnded(_ stream: Int32, endOfBody: Bool) { events.append("head \(stream) \(endOfBody ? "no body" : "body follows")") }
        func bodyData(_ stream: Int32, _ bytes: UnsafeRawBufferPointer) { events.append("data \(bytes.count)") }
        func bodyEnded(_ stream: Int32) { events.append("body ended") }
        func streamClosed(_ stream: Int32, errorCode: UInt32) { events.append("closed \(stream) \(errorCode)") }
        func responseBody(_ stream: Int32, into buffer: UnsafeMutableRawPointer, room: Int) -> (count: Int, end: Bool)? {
            body.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return (body.count, true)
        }
        var trailer: (name: String, value: String)?
        func trailers(_ stream: Int32, into fields: inout HTTP2ResponseFields) {
            if let trailer { fields.add(name: trailer.name.utf8, value: trailer.value.utf8) }
        }
    }

    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]   // + empty SETTINGS
    /// HEADERS on stream 1, END_STREAM | END_HEADERS: GET https / from HPACK's static table,
    /// :authority localhost as a literal.
    static let get: [UInt8] = [0, 0, 14, 1, 5, 0, 0, 0, 1, 0x82, 0x87, 0x84, 0x41, 9] + Array("localhost".utf8)

    private func output(_ session: HTTP2Session) -> [UInt8] {
        var bytes: [UInt8] = []
        while let piece = session.nextOutput() { bytes += piece }
        return bytes
    }

    @Test func aRequestIsReportedAndItsResponseFramed() {
        let recorder = Recorder()
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        #expect((Self.preface + Self.get).withUnsafeBytes { session.receive($0, now: 1) })
        #expect(recorder.events == ["open 1", ":method: GET", ":scheme: https", ":path: /", ":authority: localhost", "head 1 no body"])
        session.respond(1, status: 200, hasBody: true) { $0.add(name: "content-length".utf8, decimal: 2) }
        let sent = output(session)
        // SETTINGS first (ours), then HEADERS and DATA "ok" with END_STREAM on stream 1.
        #expect(sent[3] == 4, "SETTINGS opens the server's side")
        #expect(sent.suffix(11) == [0, 0, 2, 0, 1, 0, 0, 0, 1] + Array("ok".utf8))
        #expect(recorder.events.last == "closed 1 0")
    }

    /// RFC 9113 §5.1.1: opening stream 5 closes an idle stream 3; HEADERS on 3 afterwards is a
    /// connection error (nghttp2 alone ignores it).
    @Test func headersOnASkippedStreamEndTheConnection() {
        func get(_ stream: UInt8) -> [UInt8] { var frame = Self.get; frame[8] = stream; return frame }
        let recorder = Recorder()
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        #expect((Self.preface + get(5)).withUnsafeBytes { session.receive($0, now: 1) })
        #expect(get(7).withUnsafeBytes { session.receive($0, now: 1) }, "the next one is fine")
        #expect(!get(3).withUnsafeBytes { session.receive($0, now: 1) })
        #expect(session.failure?.contains("stream 3, which the client skipped") == true, "\(session.failure ?? "")")
        let sent = output(session)
        let goaway = sent.firstRange(of: [0, 0, 8, 7, 0, 0, 0, 0, 0] as [UInt8]).map { Array(sent[$0.upperBound...].prefix(8)) }
        #expect(goaway?.suffix(4) == [0, 0, 0, 1], "GOAWAY PROTOCOL_ERROR: \(sent)")
    }

    @Test func trailersEndTheStreamAfterTheLastData() {
        let recorder = Recorder()
        recorder.trailer = ("X-Checksum", "c0ffee")
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        #expect((Self.preface + Self.get).withUnsafeBytes { session.receive($0, now: 1) })
        session.respond(1, status: 200, hasBody: true) { _ in }
        let sent = output(session)
        // DATA "ok" without END_STREAM, then HEADERS (the trailer) with END_STREAM | END_HEADERS.
        let data: [UInt8] = [0, 0, 2, 0, 0, 0, 0, 0, 1] + Array("ok".utf8)
        guard let dataAt = sent.firstRange(of: data)?.lowerBound else {
            Issue.record("no DATA frame without END_STREAM in \(sent)")
            return
        }
        let trailers = Array(sent[(dataAt + data.count)...])
        #expect(trailers.count > 9 && trailers[3] == 1 && trailers[4] == 5 && trailers[8] == 1, "\(trailers)")
        #expect(recorder.events.last == "closed 1 0")
    }

    @Test func anInterimResponseGoesBeforeTheFinalOne() {
        let recorder = Recorder()
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        #expect((Self.preface + Self.get).withUnsafeBytes { session.receive($0, now: 1) })
        session.inform(1, status: 103) { $0.add(name: "Link".utf8, value: "</style.css>; rel=preload".utf8) }
        session.respond(1, status: 200, hasBody: true) { _ in }
        let sent = output(session)
        // After our SETTINGS and the ACK of the client's: HEADERS with END_HEADERS only (103),
        // HEADERS again (200), DATA with END_STREAM.
        var frames: [(type: UInt8, flags: UInt8)] = []
        var at = 0
        while at + 9 <= sent.count {
            let length = Int(sent[at]) << 16 | Int(sent[at + 1]) << 8 | Int(sent[at + 2])
            frames.append((sent[at + 3], sent[at + 4]))
            at += 9 + length
        }
        #expect(frames.filter { $0.type != 4 }.map { "\($0.type)/\($0.flags)" } == ["1/4", "1/4", "0/1"], "\(frames)")
    }

    @Test func responseFieldsAreLowercasedAndListedAfterTheStatus() {
        var fields = HTTP2ResponseFields()
        for round in 0..<2 {   // reused: the second response starts afresh
            fields.start(status: round == 0 ? 404 : 200)
            fields.add(name: "Content-Type".utf8, value: "text/plain".utf8)
            fields.add(name: "content-length".utf8, decimal: 1_048_576 + round)
            fields.add(name: "X-Empty".utf8, value: "".utf8)
            let listed = fields.withList { list, count in
                (0..<count).map { i in
                    let nv = list[i]
                    return String(decoding: UnsafeBufferPointer(start: nv.name, count: nv.namelen), as: UTF8.self) + ": "
                        + String(decoding: UnsafeBufferPointer(start: nv.value, count: nv.valuelen), as: UTF8.self)
                }
            }
            #expect(listed == [":status: \(round == 0 ? 404 : 200)", "content-type: text/plain", "content-length: \(1_048_576 + round)", "x-empty: "])
        }
    }

    @Test func aBadPrefaceEndsTheSession() {
        let recorder = Recorder()   // the session holds its delegate unowned
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        let ok = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes { session.receive($0, now: 1) }
        #expect(!ok)
        #expect(session.failure != nil)
        withExtendedLifetime(recorder) {}
    }

    @Test func aPingFloodSpendsTheBudgetAndEndsInEnhanceYourCalm() {
        let recorder = Recorder()
        let session = HTTP2Session(settings: HTTP2Settings(), delegate: recorder)
        let ping: [UInt8] = [0, 0, 8, 6, 0, 0, 0, 0, 0] + Array(repeating: 7, count: 8)
        var flood = Self.preface
        for _ in 0..<1200 { flood += ping }
        #expect(!flood.withUnsafeBytes { session.receive($0, now: 1) })
        #expect(session.failure?.contains("a flood of PING frames") == true)
        let goaway = output(session)
        // GOAWAY (type 7) with ENHANCE_YOUR_CALM (11) among what goes out.
        #expect(goaway.indices.contains { i in i + 17 <= goaway.count && goaway[i + 3] == 7 && goaway[i + 16] == 11 })
        withExtendedLifetime(recorder) {}
    }
}

@Suite struct HTTP2SettingsTests {
    @Test func gunicornsProtocolListsInALPNOrder() throws {
        #expect(try HTTP2Settings(protocols: "h2,h1").protocols == [.h2, .h1])
        #expect(try HTTP2Settings(protocols: " h1 , h2 ").protocols == [.h1, .h2])
        #expect(try HTTP2Settings(protocols: "h2,http/1.1").protocols.map(\.alpn) == ["h2", "http/1.1"])
        #expect(!HTTP2Settings().speaksHTTP2)
        #expect(throws: HTTP2SettingError.self) { try HTTP2Settings(protocols: "h3") }
        #expect(throws: HTTP2SettingError.self) { try HTTP2Settings(protocols: ",") }
    }

    @Test func sizesOutsideRFC9113sRangesAreNamed() {
        var settings = HTTP2Settings()
        settings.maxFrameSize = 1000
        #expect(settings.problem?.contains("http2_max_frame_size") == true)
        settings = HTTP2Settings()
        settings.initialWindowSize = 0
        #expect(settings.problem?.contains("http2_initial_window_size") == true)
    }
}
