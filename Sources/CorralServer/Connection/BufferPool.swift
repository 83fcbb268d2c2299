import CorralHTTP
import Glibc

/// The memory a connection needs only while a request is in progress: the read buffer, the
/// header-field table and the output buffer. Idle keep-alive connections hold none of it, which
/// keeps 10,000 idle connections cheap; busy ones reuse pooled sets and allocate nothing.
final class RequestBuffers {
    static let standardCapacity = 16 * 1024
    private(set) var bytes: UnsafeMutableRawPointer
    private(set) var capacity: Int
    let fields: UnsafeMutablePointer<HeaderField>
    let fieldCapacity: Int
    var output: [UInt8] = []
    /// Room for copies of response-header values the access log asks for.
    let scratch: UnsafeMutableRawBufferPointer

    init(fieldCapacity: Int) {
        capacity = Self.standardCapacity
        bytes = malloc(capacity)!
        self.fieldCapacity = max(fieldCapacity, 1)
        fields = .allocate(capacity: self.fieldCapacity)
        output.reserveCapacity(4096)
        scratch = .allocate(byteCount: 512, alignment: 1)
    }

    deinit {
        free(bytes)
        fields.deallocate()
        scratch.deallocate()
    }

    var isStandardSize: Bool { capacity == Self.standardCapacity }

    /// Grows the read buffer (a head larger than usual, within the limits); contents are kept.
    func grow(to newCapacity: Int) {
        bytes = realloc(bytes, newCapacity)!
        capacity = newCapacity
    }
}

/// A free list of `RequestBuffers`; only standard-size sets are kept.
final class BufferPool {
    private var free: [RequestBuffers] = []
    private let fieldCapacity: Int
    private let keep: Int

    init(fieldCapacity: Int, keep: Int) {
        self.fieldCapacity = fieldCapacity
        self.keep = keep
        free.reserveCapacity(keep)
    }

    func take() -> RequestBuffers {
        free.popLast() ?? RequestBuffers(fieldCapacity: fieldCapacity)
    }

    func give(_ buffers: RequestBuffers) {
        guard buffers.isStandardSize, free.count < keep else { return }
        buffers.output.removeAll(keepingCapacity: true)
        free.append(buffers)
    }
}
