// swift-tools-version:6.0
import PackageDescription

// The hot modules skip runtime exclusivity checks: they cost ~8% of instructions on the loop's
// stored properties, and all of that state is touched by the loop thread only.
// corral's own async functions run on their caller's executor (SE-0461) instead of switching to
// the generic one on entry: with a task-executor preference every such switch takes a runtime
// lock, ~10% of a worker's CPU. The examples build without it, as users' modules do.
let nonsending: SwiftSetting = .enableUpcomingFeature("NonisolatedNonsendingByDefault")
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"]), nonsending]

let package = Package(
    name: "corral",
    products: [
        .library(name: "CorralWorker", targets: ["CorralWorker"]),
        .executable(name: "corral-worker", targets: ["corral-worker"]),
        .executable(name: "corrald", targets: ["corrald"]),
        .executable(name: "corralctl", targets: ["corralctl"]),
        .executable(name: "corral-python", targets: ["corral-python"]),
        .executable(name: "corral-example-json", targets: ["corral-example-json"]),
        .executable(name: "corral-example-hello", targets: ["corral-example-hello"]),
        .executable(name: "corral-fuzz", targets: ["corral-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // What Glibc does not export to Swift: epoll, eventfd, signalfd, timerfd, accept4, openat2...
        .target(name: "CCorral"),
        // libsystemd: sd_listen_fds_with_names, sd_notify, sd_journal_sendv.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        // libxml2: the XML-RPC documents of the control socket.
        .systemLibrary(name: "CXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // libpython (Debian's python3-dev): only corral-python links it.
        .systemLibrary(name: "CPython", pkgConfig: "python3-embed", providers: [.apt(["python3-dev"])]),
        // libcrypto (OpenSSL): SHA-1 for the WebSocket handshake; only the workers that speak
        // WebSocket link it.
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // libssl (OpenSSL 3): TLS on the workers' listeners, and corrald's check of the certificates.
        .systemLibrary(name: "CTLS", pkgConfig: "libssl", providers: [.apt(["libssl-dev"])]),
        // libnghttp2: HTTP/2 framing, HPACK and flow control (the engine drives it).
        .systemLibrary(name: "CNGHTTP2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        // zlib: permessage-deflate (RFC 7692) for the engine's WebSockets.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libedit: line editing and history at corralctl's interactive prompt.
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .target(name: "CorralEventLoop", dependencies: ["CCorral"], swiftSettings: hotPath),
        // What every corral command line shares: bad usage exits 2, as gunicorn's does.
        .target(name: "CorralCommandLine", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: [nonsending]),
        .target(name: "CorralHTTP", swiftSettings: hotPath),
        // RFC 6455: the frames and the conversation, plain state machines like the request parser.
        .target(name: "CorralWebSocket", dependencies: ["CorralHTTP", "CZlib"], swiftSettings: hotPath),
        // Apart, so that only the binaries that accept WebSockets link libcrypto (for SHA-1).
        .target(name: "CorralWebSocketHandshake", dependencies: ["CorralHTTP", "CCrypto"], swiftSettings: hotPath),
        // TLS over OpenSSL: gunicorn's TLS settings, a worker's context, one connection's stream.
        .target(name: "CorralTLS", dependencies: ["CTLS", "CCorral"], swiftSettings: hotPath),
        // HTTP/2 without sockets: gunicorn's settings, a server session over nghttp2 (bytes in and out).
        .target(name: "CorralHTTP2", dependencies: ["CNGHTTP2"], swiftSettings: hotPath),
        // Metrics: gunicorn's statsd lines (batched per loop iteration), the duration histogram
        // workers report to corrald, and the Prometheus text corrald serves at metrics_bind.
        .target(name: "CorralMetrics", swiftSettings: hotPath),
        .target(name: "CorralSystemd", dependencies: ["CSystemd", "CCorral", "CorralEventLoop",
                                                      .product(name: "Logging", package: "swift-log")],
                swiftSettings: [nonsending]),
        .target(name: "CorralServer",
                dependencies: ["CorralEventLoop", "CorralHTTP", "CorralHTTP2", "CorralMetrics", "CorralSystemd", "CorralWebSocket", "CorralTLS", "CCorral",
                               .product(name: "Logging", package: "swift-log")],
                swiftSettings: hotPath),
        // corrald's brain: the worker/generation state machine (pure, no I/O), the configuration
        // (gunicorn's settings from TOML and command lines), the pidfile.
        // corral_gunicorn.py: a gunicorn config file read and its hooks run, by corrald's python3
        // child and in corral-python's workers.
        .target(name: "CorralGunicornPython", exclude: ["corral_gunicorn.py"], cSettings: [.unsafeFlags(["-std=c23"])]),
        .target(name: "CorralSupervisor",
                dependencies: ["CorralHTTP", "CorralHTTP2", "CorralMetrics", "CorralSystemd", "CorralTLS", "CorralWSGI", "CorralGunicornPython",
                               .product(name: "TOMLKit", package: "TOMLKit")],
                swiftSettings: [nonsending]),
        // The control socket: supervisord's XML-RPC, served by the engine inside corrald's loop.
        .target(name: "CorralControl", dependencies: ["CXML2", "CCorral", "CorralServer", "CorralEventLoop", "CorralHTTP"],
                swiftSettings: [nonsending]),
        // WSGI without Python: the environ from a parsed head, gunicorn's WSGI settings.
        .target(name: "CorralWSGI", dependencies: ["CorralHTTP"], swiftSettings: hotPath),
        // The bridge: the embedded interpreter, the exchange between the loop and the app's threads.
        // corral_runtime.py, corral_wsgi.py and corral_asgi.py, the bridge's Python half, built
        // into the worker with C23's #embed.
        .target(name: "CorralPythonRuntime", exclude: ["corral_runtime.py", "corral_wsgi.py", "corral_asgi.py", "corral_websocket.py"], cSettings: [.unsafeFlags(["-std=c23"])]),
        .target(name: "CorralPython",
                dependencies: ["CPython", "CorralPythonRuntime", "CorralGunicornPython", "CorralWSGI", "CorralServer", "CorralHTTP", "CorralWebSocket",
                               "CorralWebSocketHandshake", "CorralEventLoop", "CCorral"],
                swiftSettings: hotPath),
        .target(name: "CorralWorker",
                dependencies: ["CorralServer", "CorralSystemd", "CorralEventLoop", "CorralTLS", "CorralHTTP2", "CCorral", "CorralCommandLine",
                               .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: [nonsending]),
        .executableTarget(name: "corral-worker",
                          dependencies: ["CorralWorker", "CorralCommandLine",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: [nonsending]),
        .executableTarget(name: "corrald",
                          dependencies: ["CorralSupervisor", "CorralControl", "CorralMetrics", "CorralServer", "CorralSystemd", "CorralTLS",
                                         "CorralEventLoop", "CCorral", "CorralCommandLine",
                                         .product(name: "Logging", package: "swift-log"),
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: [nonsending]),
        // The fuzz targets' properties (`make fuzz`), replayed on their corpus by the tests.
        .target(name: "CorralFuzzing", dependencies: ["CorralHTTP", "CorralControl", "CorralSupervisor"]),
        .executableTarget(name: "corral-fuzz", dependencies: ["CorralFuzzing"]),
        // The benchmarks' WebSocket load generator (not packaged).
        .executableTarget(name: "corral-wsload", dependencies: ["CCorral"], swiftSettings: hotPath),
        .executableTarget(name: "corral-python",
                          dependencies: ["CorralPython", "CorralWSGI", "CorralWebSocket", "CorralWorker", "CorralCommandLine", "CorralServer", "CorralHTTP", "CCorral",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: [nonsending]),
        .executableTarget(name: "corralctl",
                          dependencies: ["CEdit", "CorralControl", "CorralHTTP", "CorralServer", "CorralSupervisor", "CorralCommandLine",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: [nonsending]),
        .executableTarget(name: "corral-example-json", dependencies: ["CorralWorker"],
                          path: "Examples/json-api"),
        .executableTarget(name: "corral-example-hello", dependencies: ["CorralWorker"],
                          path: "Examples/hello"),
        .testTarget(name: "CorralHTTPTests", dependencies: ["CorralHTTP"]),
        .testTarget(name: "CorralWebSocketTests", dependencies: ["CorralWebSocket", "CorralWebSocketHandshake", "CorralHTTP"]),
        .testTarget(name: "CorralMetricsTests", dependencies: ["CorralMetrics"]),
        .testTarget(name: "CorralTLSTests", dependencies: ["CorralTLS"]),
        .testTarget(name: "CorralHTTP2Tests", dependencies: ["CorralHTTP2"]),
        .testTarget(name: "CorralEventLoopTests", dependencies: ["CorralEventLoop"]),
        .testTarget(name: "CorralSupervisorTests", dependencies: ["CorralSupervisor", "CorralMetrics"]),
        .testTarget(name: "CorralControlTests", dependencies: ["CorralControl"]),
        .testTarget(name: "CorralFuzzingTests", dependencies: ["CorralFuzzing"]),
        .testTarget(name: "CorralWSGITests", dependencies: ["CorralWSGI", "CorralHTTP"]),
        .testTarget(name: "CorralIntegrationTests", dependencies: ["CorralServer", "CorralSystemd", "CorralEventLoop"]),
    ],
    swiftLanguageModes: [.v6]
)
