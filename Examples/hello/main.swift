import CorralWorker

// The smallest corral worker: the 13-byte "Hello, World!" the benchmark serves.
// The headers and body are built once; each response shares them and allocates nothing.
let headers: HTTPFields = ["Content-Type": "text/plain"]
let body: [UInt8] = Array("Hello, World!".utf8)

Worker.fromCommandLine(name: "corral-example-hello") { _ in
    Response(status: 200, headers: headers, body: .bytes(body))
}.run()
