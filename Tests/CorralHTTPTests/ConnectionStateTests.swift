import Testing
@testable import CorralHTTP

@Suite struct ConnectionStateTests {
    @Test func keepAliveRequestsCycleBackToIdle() {
        var state = ConnectionState()
        state.bytesArrived()
        #expect(state.phase == .readingHead)
        state.headParsed(keepAlive: true)
        #expect(state.phase == .handling)
        #expect(state.responseStarting() == false)
        #expect(state.responseFinished() == .readNextRequest)
        #expect(state.phase == .idle)
        #expect(state.requestsServed == 1)
    }

    @Test func aRequestThatDoesNotAllowKeepAliveCloses() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: false)
        #expect(state.responseStarting() == true)
        #expect(state.responseFinished() == .close)
        #expect(state.phase == .closed)
    }

    @Test func drainingAnswersAnIdleConnectionsNextRequestThenCloses() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        _ = state.responseStarting()
        #expect(state.responseFinished() == .readNextRequest)
        state.drain()
        #expect(state.phase == .idle, "not closed under a request that may be on the wire")
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        #expect(state.responseStarting() == true, "the response says Connection: close")
        #expect(state.responseFinished() == .close)
    }

    @Test func drainingLetsTheRequestInFlightFinishWithConnectionClose() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        state.drain()
        #expect(state.responseStarting() == true, "the response says Connection: close")
        #expect(state.responseFinished() == .close)
    }

    /// The head already said keep-alive when the drain began (a streamed body still being
    /// sent): closing after it would lose the request its client sends next.
    @Test func aDrainThatBeginsDuringAKeepAliveResponseStillAnswersTheNextRequest() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        #expect(state.responseStarting() == false)
        state.drain()
        #expect(state.responseFinished() == .readNextRequest)
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        #expect(state.responseStarting() == true, "the next response says Connection: close")
        #expect(state.responseFinished() == .close)
    }

    @Test func anUnreadableBodyForcesClose() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        #expect(state.responseStarting(bodyUnreadable: true) == true)
        #expect(state.responseFinished() == .close)
    }

    @Test func timeoutsAnswer408OnlyForAHalfReceivedHead() {
        var state = ConnectionState()
        #expect(state.timeoutAction() == .close)
        state.bytesArrived()
        #expect(state.timeoutAction() == .respond408AndClose)
        state.headParsed(keepAlive: true)
        #expect(state.timeoutAction() == .close)
    }
}
