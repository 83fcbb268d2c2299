import Testing
@testable import CorralWebSocket

/// The conversation after the handshake, on bytes and a clock alone: what it answers, what it
/// reports, and when it gives up.
@Suite struct WebSocketConversationTests {
    static let second: Int64 = 1_000_000_000

    /// Feeds `bytes` the way the connection does (again while it consumes); the events, in order.
    private func feed(_ conversation: inout WebSocketConversation, _ bytes: [UInt8], now: Int64 = 0) -> [WebSocketConversation.Event] {
        var buffer = bytes
        var events: [WebSocketConversation.Event] = []
        var offset = 0
        while offset < buffer.count {
            let (consumed, event) = buffer.withUnsafeMutableBytes {
                conversation.receive(UnsafeMutableRawBufferPointer(rebasing: $0[offset...]), now: now)
            }
            offset += consumed
            if let event { events.append(event) }
            if consumed == 0 && event == nil { break }
        }
        return events
    }

    /// Takes what the conversation would write, as (opcode, payload) frames.
    private func sent(_ conversation: inout WebSocketConversation) -> [(opcode: UInt8, payload: [UInt8])] {
        let bytes = Array(conversation.pendingOutput)
        conversation.consumeOutput(bytes.count)
        var frames: [(UInt8, [UInt8])] = []
        var offset = 0
        while offset < bytes.count {
            var length = Int(bytes[offset + 1]), start = offset + 2
            if length == 126 { length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3]); start += 2 }
            frames.append((bytes[offset] & 0x0F, Array(bytes[start..<start + length])))
            offset = start + length
        }
        return frames
    }

    private func settings(ping: Int64 = 0, timeout: Int64 = 0) -> WebSocketConversation.Settings {
        var settings = WebSocketConversation.Settings()
        settings.pingInterval = ping
        settings.pingTimeout = timeout
        return settings
    }

    @Test func aFragmentedMessageWithAPingBetweenItsFragments() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        let events = feed(&conversation, clientFrame(0x1, Array("hel".utf8), fin: false) + clientFrame(0x9, [1, 2])
                          + clientFrame(0x0, Array("lo".utf8)))
        #expect(events == [.message(.text, Array("hello".utf8))])
        let frames = sent(&conversation)
        #expect(frames.map(\.opcode) == [0xA] && frames.first?.payload == [1, 2])   // the pong, with the ping's payload
    }

    @Test func theClientsCloseIsEchoedAndEndsIt() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        let events = feed(&conversation, clientFrame(0x8, [0x0F, 0xA0] + Array("bye".utf8)) + clientFrame(0x1, Array("late".utf8)))
        #expect(events == [.closed(code: 4000, reason: "bye")])
        #expect(conversation.isClosed)
        let frames = sent(&conversation)
        #expect(frames.count == 1 && frames[0].opcode == 0x8 && frames[0].payload == [0x0F, 0xA0])
        // Nothing is sent after the close.
        [UInt8]("more".utf8).withUnsafeBytes { conversation.send(.text, $0) }
        #expect(conversation.pendingOutputCount == 0)
    }

    @Test func aCloseWithoutACodeIsReportedAs1005AndEchoedEmpty() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        #expect(feed(&conversation, clientFrame(0x8, [])) == [.closed(code: 1005, reason: "")])
        let frames = sent(&conversation)
        #expect(frames.count == 1 && frames[0].opcode == 0x8 && frames[0].payload.isEmpty)
    }

    @Test func theServersCloseWaitsForTheClientsThenGivesUp() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        conversation.close(code: 1012, reason: "service restart", now: 0)
        #expect(sent(&conversation).first?.payload == [0x03, 0xF4] + Array("service restart".utf8))
        // The client's last message is not handed on; its close ends the conversation, unanswered.
        #expect(feed(&conversation, clientFrame(0x1, Array("late".utf8)) + clientFrame(0x8, [0x03, 0xF4]))
                == [.closed(code: 1012, reason: "")])
        #expect(conversation.pendingOutputCount == 0)

        var silent = WebSocketConversation(settings: settings(), now: 0)
        silent.close(code: 1001, now: 0)
        #expect(silent.timerFired(now: silent.settings.closeTimeout - 1) == nil)
        #expect(silent.timerFired(now: silent.settings.closeTimeout) == .closed(code: 1006, reason: ""))
    }

    @Test func keepalivePingsAndTheirTimeout() {
        var conversation = WebSocketConversation(settings: settings(ping: 2 * Self.second, timeout: Self.second), now: 0)
        #expect(conversation.deadline == 2 * Self.second)
        #expect(conversation.timerFired(now: 2 * Self.second) == nil)
        #expect(sent(&conversation).map(\.opcode) == [0x9])
        // A pong in time: no close, and the next ping after the interval.
        #expect(feed(&conversation, clientFrame(0xA, [0, 0, 0, 1])).isEmpty)
        #expect(conversation.deadline == 4 * Self.second)
        #expect(conversation.timerFired(now: 4 * Self.second) == nil)
        // None: closed with 1011 once the timeout passes.
        #expect(conversation.timerFired(now: 5 * Self.second) == .closed(code: 1011, reason: "keepalive ping timeout"))
        let frames = sent(&conversation)
        #expect(frames.map(\.opcode) == [0x9, 0x8] && frames.last?.payload.prefix(2) == [0x03, 0xF3])
    }

    @Test func aProtocolErrorClosesWithItsCode() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        #expect(feed(&conversation, clientFrame(0x1, Array("hi".utf8), masked: false))
                == [.closed(code: 1002, reason: "a client frame must be masked")])
        #expect(sent(&conversation).first?.payload.prefix(2) == [0x03, 0xEA])

        var small = WebSocketConversation(settings: { var s = settings(); s.maxMessageSize = 4; return s }(), now: 0)
        #expect(feed(&small, clientFrame(0x2, [1, 2, 3, 4, 5])) == [.closed(code: 1009, reason: "message too big")])
    }

    @Test func theAppsMessagesInTheShortestFrames() {
        var conversation = WebSocketConversation(settings: settings(), now: 0)
        [UInt8](repeating: 9, count: 300).withUnsafeBytes { conversation.send(.binary, $0) }
        [UInt8]("ok".utf8).withUnsafeBytes { conversation.send(.text, $0) }
        let frames = sent(&conversation)
        #expect(frames.map(\.opcode) == [0x2, 0x1] && frames[0].payload.count == 300 && frames[1].payload == Array("ok".utf8))
    }
}
