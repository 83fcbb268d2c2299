import CorralHTTP
import Glibc

/// The memory a connection needs only while a request is in progress: the read buffer, the
/// header-field table and the output buffer. Idle keep-alive connections hold none of it, which
/// keeps 10,000 idle connections cheap; busy ones reuse pooled sets and allocate nothing.
final class RequestBuffers {
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var capacity: Int
    let fields: UnsafeMutablePointer<HeaderField>
    let fieldCapacity: Int
    var output: [UInt8] = []
    /// Room for copies of response-header values the access log asks for.
    let scratch: UnsafeMutableRawBufferPointer

    init(capacity: Int, fieldCapacity: Int, outputCapacity: Int) {
        self.capacity = capacity
        bytes = malloc(capacity)!
        self.fieldCapacity = max(fieldCapacity, 1)
        fields = .allocate(capacity: self.fieldCapacity)
        output.reserveCapacity(outputCapacity)
        scratch = .allocate(byteCount: 512, alignment: 1)
    }

    deinit {
        free(bytes)
        fields.deallocate()
        scratch.deallocate()
    }

    /// Grows the read buffer (a head larger than usual, within the limits); contents are kept.
    func grow(to newCapacity: Int) {
        bytes = realloc(bytes, newCapacity)!
        capacity = newCapacity
    }
}

/// A free list of `RequestBuffers` of one size; sets that grew (or are another pool's) are let go.
final class BufferPool {
    private var free: SpareList<RequestBuffers>
    private let capacity: Int
    private let fieldCapacity: Int
    private let outputCapacity: Int

    /// A connection's sets: 16 KiB read buffers, room for a response head.
    static let connectionCapacity = 16 * 1024
    /// An HTTP/2 stream's: its head, a piece of its body; its response goes to the session.
    static let streamCapacity = 4 * 1024

    init(capacity: Int, fieldCapacity: Int, outputCapacity: Int, keep: Int) {
        self.capacity = capacity
        self.fieldCapacity = fieldCapacity
        self.outputCapacity = outputCapacity
        free = SpareList(limit: keep)
    }

    func take() -> RequestBuffers {
        free.take() ?? RequestBuffers(capacity: capacity, fieldCapacity: fieldCapacity, outputCapacity: outputCapacity)
    }

    func give(_ buffers: RequestBuffers) {
        guard buffers.capacity == capacity else { return }
        buffers.output.removeAll(keepingCapacity: true)
        _ = free.give(buffers)
    }

    /// Frees the sets unused since the last trim; how many.
    func trim() -> Int {
        free.trim()
    }
}
