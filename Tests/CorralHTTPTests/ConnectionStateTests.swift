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

    @Test func drainingClosesIdleConnectionsAtOnce() {
        var state = ConnectionState()
        #expect(state.drain() == .close)
        #expect(state.phase == .closed)
    }

    @Test func drainingLetsTheRequestInFlightFinishWithConnectionClose() {
        var state = ConnectionState()
        state.bytesArrived()
        state.headParsed(keepAlive: true)
        #expect(state.drain() == .readNextRequest)
        #expect(state.responseStarting() == true, "the response says Connection: close")
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
