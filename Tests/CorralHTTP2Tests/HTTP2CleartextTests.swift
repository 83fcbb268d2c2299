import CorralHTTP2
import Testing

/// h2c's pieces without sockets: gunicorn's setting, the preface sniff, HTTP2-Settings decoding.
@Suite struct HTTP2CleartextTests {
    @Test func gunicornsValuesAndBooleans() throws {
        #expect(try HTTP2Cleartext(setting: "both") == .both)
        #expect(try HTTP2Cleartext(setting: "Prior-Knowledge") == .priorKnowledge)
        #expect(try HTTP2Cleartext(setting: "true") == .priorKnowledge)
        #expect(try HTTP2Cleartext(setting: "false") == .off)
        #expect(throws: HTTP2SettingError.self) { try HTTP2Cleartext(setting: "h2c") }
        #expect(HTTP2Cleartext.both.allowsPriorKnowledge && HTTP2Cleartext.both.allowsUpgrade)
        #expect(!HTTP2Cleartext.upgrade.allowsPriorKnowledge && !HTTP2Cleartext.priorKnowledge.allowsUpgrade)
    }

    @Test func thePrefaceIsMatchedWholeInPartOrNot() {
        func match(_ text: String) -> HTTP2Cleartext.PrefaceMatch {
            Array(text.utf8).withUnsafeBytes { HTTP2Cleartext.matchPreface($0) }
        }
        #expect(match("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .match)
        #expect(match("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\u{12}\u{4}") == .match, "frames may follow in the same read")
        #expect(match("PRI * HT") == .partial)
        #expect(match("GET / HTTP/1.1\r\n") == .mismatch)
        #expect(match("PRI * HTTP/1.1\r\n") == .mismatch)
    }

    @Test func http2SettingsIsBase64URLOfWholeSettings() {
        // curl's value: MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 1 GiB-1, ENABLE_PUSH 0.
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMAAABkAAQCAAAAAAIAAAAA".utf8)
                == [0, 3, 0, 0, 0, 100, 0, 4, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0])
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "".utf8) == [], "no settings is allowed")
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMAAABk".utf8) == [0, 3, 0, 0, 0, 100])
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMAAABk==".utf8) == [0, 3, 0, 0, 0, 100], "padding is tolerated")
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMAAA+k".utf8) == nil, "+ is base64, not base64url")
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMA".utf8) == nil, "3 bytes are half a setting")
        #expect(HTTP2Cleartext.settingsPayload(base64URL: "AAMAAABk=A".utf8) == nil)
    }
}
