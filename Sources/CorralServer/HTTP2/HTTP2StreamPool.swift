import CCorral

/// What serving an HTTP/2 stream takes, kept for the next stream: its state (`HTTP2Stream`), a
/// `Connection` whose coroutine waits parked for a stream (so no task is started per request),
/// and stream-sized buffers. A busy worker allocates nothing per stream once these are warm;
/// what a burst left unused for `trimInterval` is freed.
/// Used on the loop thread only.
final class HTTP2StreamPool: @unchecked Sendable {
    /// At most this many of each are kept (64 connections of 32 streams each fit).
    static let keep = 4096
    static let trimInterval = Duration.seconds(10)
    unowned(unsafe) let server: HTTPServer
    let buffers: BufferPool
    private var spareStreams = SpareList<HTTP2Stream>(limit: HTTP2StreamPool.keep)
    private var idleWorkers = SpareList<Connection>(limit: HTTP2StreamPool.keep)

    init(server: HTTPServer) {
        self.server = server
        buffers = BufferPool(capacity: BufferPool.streamCapacity, fieldCapacity: server.configuration.limits.fieldCount,
                             outputCapacity: 0, keep: Self.keep)
        server.loop.spawn { [unowned self] in
            while true {
                await server.loop.sleep(for: Self.trimInterval)
                trim()
            }
        }
    }

    func stream(id: Int32, owner: HTTP2Connection) -> HTTP2Stream {
        guard let stream = spareStreams.take() else { return HTTP2Stream(id: id, owner: owner) }
        stream.reuse(id: id, owner: owner)
        return stream
    }

    /// Takes `stream` back once both its session and its coroutine are done with it.
    func retireIfDone(_ stream: HTTP2Stream) {
        guard stream.closed, stream.connection == nil else { return }
        _ = spareStreams.give(stream)
    }

    /// Serves `stream` (its head complete) on a parked coroutine, or a new one.
    func serve(_ stream: HTTP2Stream, on parent: Connection) {
        let parked = idleWorkers.take()
        let worker = parked ?? server.takeConnection()
        worker.open(stream: stream, on: parent)
        if parked != nil {
            worker.assign(true)
        } else {
            server.loop.spawn { await worker.serveHTTP2Streams() }
        }
    }

    /// A worker's stream is done: false when the worker should end (enough are parked);
    /// otherwise it waits here for its next stream (or to be let go: false).
    func park(_ worker: Connection) async -> Bool {
        guard idleWorkers.give(worker) else {
            server.giveBack(worker)
            return false
        }
        return await withUnsafeContinuation { worker.streamAssignment = $0 }
    }

    private func trim() {
        var freed = spareStreams.trim() + buffers.trim()
        freed += idleWorkers.trim { worker in
            server.giveBack(worker)
            worker.assign(false)
        }
        // What a burst took goes back to the system, not only to malloc's free lists.
        if freed > 0 { corral_malloc_trim() }
    }
}

extension Connection {
    /// Wakes this parked stream coroutine: to serve the stream it was given, or to end.
    fileprivate func assign(_ serve: Bool) {
        let assignment = streamAssignment!
        streamAssignment = nil
        assignment.resume(returning: serve)
    }
}
