import CorralTLS
import Glibc

/// The connection's byte stream: the socket itself, or TLS over it. Both speak the syscalls'
/// language (a count, 0 for the peer's end, -1 with errno; EAGAIN to wait), so the reading and
/// writing code above has one path, and plain HTTP pays one nil check.
extension Connection {
    /// Up to `count` bytes into `buffer`.
    @inline(__always)
    func receive(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        guard tls != nil else { return read(fd, buffer, count) }
        tlsReadWantsWrite = false
        switch tls!.read(buffer, count) {
        case .success(let n): return n
        case .failure(let stall): return stalled(stall, reading: true)
        }
    }

    /// Up to `count` bytes from `bytes`; `flags` are send(2)'s (MSG_MORE applies to plain sockets).
    @inline(__always)
    func transmit(_ bytes: UnsafeRawPointer, _ count: Int, flags: Int32 = Int32(MSG_NOSIGNAL)) -> Int {
        guard tls != nil else { return send(fd, bytes, count, flags) }
        switch tls!.write(bytes, count) {
        case .success(let n): return n
        case .failure(let stall): return stalled(stall, reading: false)
        }
    }

    /// A stall in syscall terms. A write that wants a read (renegotiation, which is refused)
    /// cannot happen; it is treated as a broken connection.
    private func stalled(_ stall: TLSStream.Stall, reading: Bool) -> Int {
        switch stall {
        case .wouldBlock(let wantsWrite):
            if reading { tlsReadWantsWrite = wantsWrite } else if !wantsWrite { errno = EPROTO; return -1 }
            errno = EAGAIN
            return -1
        case .closed:
            if reading { return 0 }
            errno = EPIPE
            return -1
        case .failed(let failure):
            switch failure {
            case .plainHTTP:
                answerPlainHTTP()
            case .other(let reason):
                server.log.debug("TLS with \(String(decoding: peerAddress, as: UTF8.self)) failed: \(reason)")
            }
            errno = ECONNRESET
            return -1
        }
    }

    /// A client that sent plain HTTP to the TLS port is told so in plain HTTP (as nginx does),
    /// with one non-blocking send, before the connection closes.
    private func answerPlainHTTP() {
        server.log.info("closing \(String(decoding: peerAddress, as: UTF8.self)): it spoke plain HTTP to a TLS listener")
        Self.plainHTTPRefusal.withUTF8Buffer { _ = send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    static let plainHTTPRefusal: StaticString = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 49\r\nConnection: close\r\n\r\nThis port speaks HTTPS: use https:// to reach it\n"

    func endTLS() {
        guard tls != nil else { return }
        tls!.end()
        tls = nil
    }
}

extension Connection {
    /// A file over TLS without kTLS: read into the output buffer (the head has gone), encrypted
    /// from there, 64 KiB at a time.
    func sendFileThroughTLS(_ file: Int32, offset: Int, count: Int) async -> Bool {
        let buffers = buffers!
        if buffers.output.count < Self.fileChunk {
            buffers.output.append(contentsOf: repeatElement(0, count: Self.fileChunk - buffers.output.count))
        }
        var position = offset
        var remaining = count
        var chunk = 0..<0
        return await writeUntil({ remaining == 0 }) {
            if chunk.isEmpty {
                let n = buffers.output.withUnsafeMutableBytes { pread(file, $0.baseAddress!, min(remaining, Self.fileChunk), position) }
                guard n > 0 else { return 0 }   // the file shrank under us, or cannot be read
                position += n
                chunk = 0..<n
            }
            let n = buffers.output.withUnsafeBytes { transmit($0.baseAddress! + chunk.lowerBound, chunk.count) }
            if n > 0 {
                chunk = (chunk.lowerBound + n)..<chunk.upperBound
                remaining -= n
                bodyBytesSent += n
            }
            return n
        }
    }

    static let fileChunk = 64 * 1024

    /// sendfile(2)'s contract through kTLS.
    func sendFileByKernelTLS(_ file: Int32, _ position: inout off_t, _ count: Int) -> Int {
        switch tls!.sendFile(file, offset: Int(position), count: count) {
        case .success(let n):
            position += off_t(n)
            return n
        case .failure(let stall):
            if case .wouldBlock(true) = stall { errno = EAGAIN } else { errno = EPIPE }
            return -1
        }
    }
}
