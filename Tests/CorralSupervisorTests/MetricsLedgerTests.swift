import CorralMetrics
import Testing
@testable import CorralSupervisor

@Suite struct MetricsLedgerTests {
    @Test func reportsAccumulateAcrossWorkerExitsSoCountersNeverGoBack() {
        var ledger = MetricsLedger()
        ledger.status(pid: 10, text: "requests=7 connections=2 in_flight=1")
        ledger.status(pid: 11, text: "requests=3 connections=0")
        var histogram = DurationHistogram()
        histogram.record(microseconds: 3000)
        ledger.durations(pid: 10, encoded: histogram.encoded)
        ledger.durations(pid: 11, encoded: "not,a,histogram")
        #expect(ledger.reports[10] == MetricsLedger.Report(requests: 7, connections: 2, inFlight: 1, durations: histogram))
        #expect(ledger.reports[11]?.inFlight == nil)
        #expect(ledger.requests(slot: 0, livePids: [10]) == 7)

        ledger.exited(pid: 10, slot: 0, unexpected: true)
        ledger.status(pid: 12, text: "requests=1 connections=1")
        #expect(ledger.requests(slot: 0, livePids: [12]) == 8, "the dead worker's 7 stay in slot 0")
        #expect(ledger.allDurations.count == 1)
        #expect(ledger.restarts == [0: 1])
        ledger.exited(pid: 11, slot: 1, unexpected: false)
        #expect(ledger.restarts[1] == nil, "a worker asked to stop is not a restart")
        #expect(ledger.requests(slot: 1, livePids: []) == 3)

        ledger.reloaded(succeeded: true)
        ledger.reloaded(succeeded: false)
        ledger.reloaded(succeeded: true)
        #expect(ledger.reloadsSucceeded == 2 && ledger.reloadsFailed == 1)
    }
}
