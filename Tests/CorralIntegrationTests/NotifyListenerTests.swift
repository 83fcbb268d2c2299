import CorralSystemd
import Foundation
import Testing

/// corrald hears its workers the systemd way: a real corral-worker's sd_notify datagrams arrive
/// with the worker's pid from the kernel's credentials.
@Suite(.serialized) struct NotifyListenerTests {
    @Test func aWorkersReadyAndWatchdogArriveWithItsPid() throws {
        let dir = TemporaryDirectory()
        let listener = try NotifyListener(path: dir.file("notify.sock"))
        let worker = try WorkerProcess(environment: ["NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "200000"])
        var messages: [NotifyListener.Message] = []
        #expect(eventually {
            while let message = listener.receive() { messages.append(message) }
            return messages.contains { $0.value("READY") == "1" } && messages.contains { $0.value("WATCHDOG") == "1" }
        })
        #expect(messages.allSatisfy { $0.pid == worker.pid }, "the sender is identified by SO_PASSCRED")
        #expect(messages.contains { $0.value("STATUS")?.hasPrefix("requests=") == true })
    }

    @Test func nothingWaitingMeansNil() throws {
        let dir = TemporaryDirectory()
        let listener = try NotifyListener(path: dir.file("quiet.sock"))
        #expect(listener.receive() == nil)
    }
}
