import CorralFuzzing
import Testing

/// The comparison the differential test rests on, on transcripts made by hand.
@Suite struct TranscriptComparisonTests {
    typealias Message = RequestStreamTranscript.Message

    func message(target: String = "2f", headEnd: Int = 20, end: Int = 20, body: String = "",
                 keepAlive: Bool = true, fields: [[String]] = [["486f7374", "61"]]) -> Message {
        Message(method: "474554", target: target, version: "1.1", fields: fields, keepAlive: keepAlive,
                headEnd: headEnd, body: body, end: end)
    }

    @Test func theSameReadingAgrees() {
        let t = RequestStreamTranscript(messages: [message(), message(headEnd: 40, end: 40)], end: "clean")
        #expect(TranscriptDisagreement.first(corral: t, llhttp: t) == nil)
    }

    @Test func aMessageEndingElsewhereIsSmuggling() {
        let ours = RequestStreamTranscript(messages: [message(end: 25, body: "6869")], end: "clean")
        let theirs = RequestStreamTranscript(messages: [message(end: 22, body: "6869")], end: "clean")
        let found = TranscriptDisagreement.first(corral: ours, llhttp: theirs)
        #expect(found == .framing(message: 0, detail: "message ends at different offsets"))
        #expect(found?.isSmuggling == true)
    }

    @Test func waitingForBytesTheOtherCountsAsTheNextRequestIsSmuggling() {
        let ours = RequestStreamTranscript(messages: [], end: "incomplete")
        let theirs = RequestStreamTranscript(messages: [message(), message(headEnd: 40, end: 40)], end: "clean")
        #expect(TranscriptDisagreement.first(corral: ours, llhttp: theirs)?.isSmuggling == true)
    }

    @Test func aRefusalIsAcceptanceNotSmuggling() {
        let ours = RequestStreamTranscript(messages: [message()], end: "error 400 invalid method")
        let theirs = RequestStreamTranscript(messages: [message(), message(headEnd: 40, end: 40)], end: "clean")
        let found = TranscriptDisagreement.first(corral: ours, llhttp: theirs)
        #expect(found == .acceptance(message: 1, refusedBy: .corral, reason: "400 invalid method"))
        #expect(found?.key == "corral refuses: 400 invalid method")
        #expect(found?.isSmuggling == false)
    }

    @Test func fieldsAreComparedByNameCaseInsensitivelyAndByValueExactly() {
        let ours = RequestStreamTranscript(messages: [message(fields: [["486f7374", "61"]])], end: "clean")
        let upper = RequestStreamTranscript(messages: [message(fields: [["484f5354", "61"]])], end: "clean")
        let other = RequestStreamTranscript(messages: [message(fields: [["486f7374", "62"]])], end: "clean")
        #expect(TranscriptDisagreement.first(corral: ours, llhttp: upper) == nil)
        #expect(TranscriptDisagreement.first(corral: ours, llhttp: other) == .fields(message: 0, what: "field value"))
    }

    @Test func nothingAfterAMessageBothCloseOnIsCompared() {
        let ours = RequestStreamTranscript(messages: [message(keepAlive: false)], end: "closed")
        let theirs = RequestStreamTranscript(messages: [message(keepAlive: false)], end: "error HPE_CLOSED_CONNECTION")
        #expect(TranscriptDisagreement.first(corral: ours, llhttp: theirs) == nil)
    }

    @Test func corralsTranscriptFollowsTheFraming() {
        let stream = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)
        let t = RequestStreamTranscript.corral(stream)
        #expect(t.end == "clean")
        #expect(t.messages.map(\.headEnd) == [47, 76])
        #expect(t.messages.map(\.end) == [49, 76])
        #expect(t.messages[0].body == "6869")
        let both = Array("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8)
        #expect(RequestStreamTranscript.corral(both).end == "error 400 both Content-Length and Transfer-Encoding")
    }
}
