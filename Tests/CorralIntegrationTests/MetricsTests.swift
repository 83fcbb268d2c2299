import Foundation
import Testing

/// corrald's Prometheus endpoint read by the real prometheus_client text parser, and gunicorn's
/// statsd metrics received on a real UDP socket.
@Suite(.serialized) struct MetricsTests {
    /// The families and samples prometheus_client's parser reads from `text`: name → labels → value.
    static func parsed(_ text: String) throws -> [String: [String: Double]] {
        try WSGIApps.requireVirtualenv()
        let directory = TemporaryDirectory()
        directory.write("metrics.txt", text)
        directory.write("parse.py", """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            samples = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for sample in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                    samples.setdefault(sample.name, {})[labels] = sample.value
            print(json.dumps(samples))

            """)
        let result = shell("\(WSGIApps.virtualenv)/bin/python3 \(directory.file("parse.py")) \(directory.file("metrics.txt"))")
        guard result.status == 0, let json = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: [String: Double]] else {
            throw WorkerFailed(description: "prometheus_client could not parse the metrics: \(result.output)\n\(text)")
        }
        return json
    }

    static func scrape(_ port: UInt16) throws -> (HTTPResponse, [String: [String: Double]]) {
        let response = try #require(try RawClient.get(port: port, "/metrics"))
        return (response, try parsed(response.text))
    }

    @Test func prometheusSeesRequestsCrashesReloadsUpgradesAndDurationsAndCountersNeverGoBack() throws {
        let metricsPort = freePort()
        let daemon = try CorraldProcess(config: "workers = 2\nmetrics_bind = \"127.0.0.1:\(metricsPort)\"\n")
        #expect(daemon.waitUntilServing(workers: 2), "\(daemon.log)")
        for _ in 0..<20 { #expect(try RawClient.get(port: daemon.port, "/")?.status == 200) }

        var metrics: [String: [String: Double]] = [:]
        #expect(try eventually {
            metrics = try Self.scrape(metricsPort).1
            return metrics["corral_request_duration_seconds_count"]?[""] ?? 0 >= 20
        }, "\(metrics)")
        let (response, _) = try Self.scrape(metricsPort)
        #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        let served = (metrics["corral_worker_requests_total"] ?? [:]).values.reduce(0, +)
        #expect(served >= 20 && served == metrics["corral_request_duration_seconds_count"]?[""], "\(metrics)")
        #expect(metrics["corral_request_duration_seconds_bucket"]?["le=+Inf"] == served)
        #expect(metrics["corral_workers"]?[""] == 2 && metrics["corral_generation"]?[""] == 1)
        #expect(metrics["corral_worker_open_connections"]?.count == 2)
        #expect((metrics["corral_uptime_seconds"]?[""] ?? 0) > 0)

        // A worker that crashes is counted as a restart, and its requests stay in its slot's counter.
        let victim = try #require(daemon.workers.first)
        kill(victim, SIGKILL)
        #expect(daemon.waitUntilServing(workers: 2))
        #expect(eventually { daemon.log.contains("all 2 workers") || !daemon.workers.contains(victim) })
        // A reload that works.
        daemon.signal(SIGHUP)
        #expect(eventually { daemon.log.contains("reload done") }, "\(daemon.log)")
        #expect(try eventually {
            metrics = try Self.scrape(metricsPort).1
            return metrics["corral_reloads_total"]?["outcome=succeeded"] == 1
        }, "\(metrics)")
        #expect((metrics["corral_worker_restarts_total"] ?? [:]).values.reduce(0, +) == 1, "\(metrics)")
        #expect(metrics["corral_reloads_total"]?["outcome=failed"] == 0)
        #expect(metrics["corral_generation"]?[""] == 2)
        #expect((metrics["corral_worker_requests_total"] ?? [:]).values.reduce(0, +) >= served, "counters never go back: \(metrics)")
        #expect((metrics["corral_request_duration_seconds_count"]?[""] ?? 0) >= served)

        // A re-exec upgrade is the same corrald: its counters and its uptime carry on.
        let beforeUpgrade = metrics
        daemon.signal(SIGUSR2)
        #expect(eventually { daemon.log.contains("upgrade done") }, "\(daemon.log)")
        metrics = try Self.scrape(metricsPort).1
        #expect(metrics["corral_generation"]?[""] == 3)
        #expect(metrics["corral_reloads_total"]?["outcome=succeeded"] == 1, "\(metrics)")
        #expect((metrics["corral_worker_restarts_total"] ?? [:]).values.reduce(0, +) == 1, "\(metrics)")
        for (name, before) in [("corral_worker_requests_total", beforeUpgrade["corral_worker_requests_total"] ?? [:]),
                               ("corral_request_duration_seconds_count", beforeUpgrade["corral_request_duration_seconds_count"] ?? [:])] {
            #expect((metrics[name] ?? [:]).values.reduce(0, +) >= before.values.reduce(0, +), "\(name) never goes back: \(metrics)")
        }
        #expect((metrics["corral_uptime_seconds"]?[""] ?? 0) >= beforeUpgrade["corral_uptime_seconds"]?[""] ?? 1, "\(metrics)")

        #expect(try RawClient.get(port: metricsPort, "/other")?.status == 404)
    }

    @Test func statsdGetsGunicornsMetricsBatchedFromTheWorkersAndTheWorkerGaugeFromCorrald() throws {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(receiver) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(receiver, $0, length)
                _ = getsockname(receiver, $0, &length)
            }
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(receiver, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let port = UInt16(bigEndian: address.sin_port)
        let daemon = try CorraldProcess(config: """
            workers = 1
            statsd_host = "127.0.0.1:\(port)"
            statsd_prefix = "shop"
            dogstatsd_tags = "env:test"
            """)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")

        let client = try RawClient(port: daemon.port)
        for _ in 0..<10 {
            client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(client.readResponse()?.status == 200)
        }
        var packets: [String] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        _ = eventually {
            let n = recv(receiver, &buffer, buffer.count, 0)
            if n > 0 { packets.append(String(decoding: buffer[..<n], as: UTF8.self)) }
            let lines = packets.flatMap { $0.split(separator: "\n").map(String.init) }
            let requests = lines.filter { $0.hasPrefix("shop.gunicorn.requests:") }
                .compactMap { Int($0.dropFirst("shop.gunicorn.requests:".count).prefix { $0 != "|" }) }.reduce(0, +)
            return requests >= 11 && lines.contains("shop.gunicorn.workers:1|g|#env:test")
        }
        let lines = packets.flatMap { $0.split(separator: "\n").map(String.init) }
        #expect(lines.contains("shop.gunicorn.workers:1|g|#env:test"), "\(lines)")
        #expect(lines.contains { $0.hasPrefix("shop.gunicorn.request.status.200:") && $0.hasSuffix("|c|#env:test") }, "\(lines)")
        let durations = lines.filter { $0.hasPrefix("shop.gunicorn.request.duration:") && $0.hasSuffix("|ms|#env:test") }
        #expect(durations.count >= 11, "one timing per request (the readiness probe included): \(lines)")
        let requestPackets = packets.filter { $0.contains("gunicorn.request") }
        #expect(requestPackets.count <= 11, "batched, never three packets per request as gunicorn sends")
    }
}
