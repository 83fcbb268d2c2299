import CCorral
import Glibc

/// corral-wsload: a WebSocket load generator for the benchmarks (none is packaged here). One
/// thread, one epoll loop, edge-triggered non-blocking sockets.
///
///     corral-wsload echo HOST:PORT CLIENTS SECONDS SIZE   each client sends a SIZE-byte text
///         message and waits for the echo, over and over: prints messages/s and its own CPU time
///     corral-wsload hold HOST:PORT CLIENTS SECONDS        opens CLIENTS WebSockets, prints
///         "open N" once they are all open, and holds them SECONDS (answering pings)

struct Client {
    var fd: Int32 = -1
    var handshaken = false
    var input: [UInt8] = []
    var sentAt = 0
}

func fail(_ message: String) -> Never {
    let text = Array("corral-wsload: \(message)\n".utf8)
    _ = write(2, text, text.count)
    exit(1)
}

func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// A masked client frame.
func frame(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
    let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
    var bytes: [UInt8] = [0x80 | opcode]
    if payload.count < 126 {
        bytes.append(0x80 | UInt8(payload.count))
    } else {
        bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    }
    bytes += mask
    for (index, byte) in payload.enumerated() { bytes.append(byte ^ mask[index & 3]) }
    return bytes
}

let arguments = CommandLine.arguments
guard arguments.count >= 5, ["echo", "hold"].contains(arguments[1]),
      let clients = Int(arguments[3]), let seconds = Double(arguments[4]) else {
    fail("usage: corral-wsload echo HOST:PORT CLIENTS SECONDS SIZE | hold HOST:PORT CLIENTS SECONDS")
}
let echo = arguments[1] == "echo"
let size = arguments.count > 5 ? Int(arguments[5]) ?? 64 : 64
let target = arguments[2].split(separator: ":")
guard target.count == 2, let port = UInt16(target[1]) else { fail("expected HOST:PORT, got \(arguments[2])") }
var address = sockaddr_in()
address.sin_family = sa_family_t(AF_INET)
address.sin_port = port.bigEndian
guard inet_pton(AF_INET, String(target[0]), &address.sin_addr) == 1 else { fail("not an IPv4 address: \(target[0])") }

var limit = rlimit()
getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

let request = Array(("GET / HTTP/1.1\r\nHost: \(arguments[2])\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
let message = frame(0x1, [UInt8](repeating: UInt8(ascii: "x"), count: size))
let epoll = epoll_create1(0)
var table: [Int32: Int] = [:]
var all = [Client](repeating: Client(), count: clients)
var open = 0
var messages = 0

func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { return false }   // (a 64-byte message always fits an empty socket buffer)
        offset += n
    }
    return true
}

for index in 0..<clients {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { fail("socket: \(String(cString: strerror(errno))) after \(index) clients") }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { fail("connect: \(String(cString: strerror(errno))) after \(index) clients") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var event = epoll_event(events: EPOLLIN.rawValue | EPOLLET.rawValue, data: epoll_data_t(fd: fd))
    epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
    all[index].fd = fd
    table[fd] = index
    guard sendAll(fd, request) else { fail("sending the handshake failed") }
}

var started = now()
var cpuAtStart = cpuSeconds()
var events = [epoll_event](repeating: epoll_event(), count: 1024)
var buffer = [UInt8](repeating: 0, count: 65536)
var deadline = Double.infinity

while now() < deadline {
    let count = epoll_wait(epoll, &events, Int32(events.count), 100)
    for i in 0..<max(0, Int(count)) {
        guard let index = table[events[i].data.fd] else { continue }
        let fd = all[index].fd
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { fail("the server closed client \(index)") }
            if n < 0 { if errno == EAGAIN { break }; fail("recv: \(String(cString: strerror(errno)))") }
            all[index].input += buffer[..<n]
        }
        if !all[index].handshaken {
            guard let end = all[index].input.indices.first(where: { all[index].input[$0...].starts(with: [13, 10, 13, 10]) }) else { continue }
            guard all[index].input.starts(with: Array("HTTP/1.1 101".utf8)) else {
                fail("handshake refused: \(String(decoding: all[index].input.prefix(80), as: UTF8.self))")
            }
            all[index].input.removeFirst(end + 4)
            all[index].handshaken = true
            open += 1
            if open == clients {
                print("open \(clients)")
                fflush(nil)
                started = now()
                cpuAtStart = cpuSeconds()
                deadline = started + seconds
                if echo { for client in all { _ = sendAll(client.fd, message) } }
            }
            continue
        }
        // Whole server frames: a ping is answered, an echo counted and the next message sent.
        var input = all[index].input
        while input.count >= 2 {
            var length = Int(input[1] & 0x7F), start = 2
            if length == 126 { guard input.count >= 4 else { break }; length = Int(input[2]) << 8 | Int(input[3]); start = 4 }
            guard input.count >= start + length else { break }
            let opcode = input[0] & 0x0F
            if opcode == 0x9 {
                _ = sendAll(fd, frame(0xA, Array(input[start..<start + length])))
            } else if opcode == 0x8 {
                fail("the server closed client \(index) with a close frame")
            } else if echo && deadline.isFinite {
                messages += 1
                _ = sendAll(fd, message)
            }
            input.removeFirst(start + length)
        }
        all[index].input = input
    }
}
let elapsed = now() - started
let cpu = cpuSeconds() - cpuAtStart
if echo {
    print("messages \(messages) in \((elapsed * 100).rounded() / 100) s: \(Int(Double(messages) / elapsed)) messages/s; load generator CPU \(Int(100 * cpu / elapsed))%")
} else {
    print("held \(clients) for \((elapsed * 10).rounded() / 10) s")
}
