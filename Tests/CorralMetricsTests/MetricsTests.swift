import CorralMetrics
import Testing

@Suite struct StatsdBufferTests {
    static func packets(_ buffer: inout StatsdBuffer) -> [String] {
        var sent: [String] = []
        buffer.flush { sent.append(String(decoding: $0, as: UTF8.self)) }
        return sent
    }

    @Test func gunicornsNamesAndTypesOnePacketPerFlush() {
        var buffer = StatsdBuffer(prefix: "", tags: "")
        buffer.request(status: 200, microseconds: 12_345)
        buffer.request(status: 200, microseconds: 7)
        buffer.request(status: 404, microseconds: 1_500_000)
        buffer.count("gunicorn.log.error", 2)
        let sent = Self.packets(&buffer)
        #expect(sent == ["""
            gunicorn.request.duration:12.345|ms
            gunicorn.request.duration:0.007|ms
            gunicorn.request.duration:1500.000|ms
            gunicorn.log.error:2|c
            gunicorn.requests:3|c
            gunicorn.request.status.200:2|c
            gunicorn.request.status.404:1|c
            """])
        #expect(Self.packets(&buffer).isEmpty, "a flush forgets what it sent")
        buffer.request(status: 500, microseconds: 1000)
        #expect(Self.packets(&buffer) == ["gunicorn.request.duration:1.000|ms\ngunicorn.requests:1|c\ngunicorn.request.status.500:1|c"],
                "counters start again from zero")
    }

    @Test func prefixAndDogstatsdTags() {
        var buffer = StatsdBuffer(prefix: "shop.", tags: "env:prod,app")
        buffer.gauge("gunicorn.workers", 5)
        #expect(Self.packets(&buffer) == ["shop.gunicorn.workers:5|g|#env:prod,app"])
        var bare = StatsdBuffer(prefix: "shop", tags: "")
        bare.gauge("gunicorn.workers", 1)
        #expect(Self.packets(&bare) == ["shop.gunicorn.workers:1|g"], "gunicorn adds the dot")
    }

    @Test func manyRequestsSplitIntoPacketsOfWholeLinesUnderTheLimit() {
        var buffer = StatsdBuffer(prefix: "", tags: "")
        for index in 0..<500 { buffer.request(status: 200, microseconds: index * 1000) }
        let sent = Self.packets(&buffer)
        #expect(sent.count > 1)
        #expect(sent.allSatisfy { $0.utf8.count <= StatsdBuffer.packetLimit && !$0.hasSuffix("\n") })
        let lines = sent.flatMap { $0.split(separator: "\n") }
        #expect(lines.filter { $0.hasPrefix("gunicorn.request.duration:") }.count == 500)
        #expect(lines.contains("gunicorn.requests:500|c"))
    }
}

@Suite struct DurationHistogramTests {
    @Test func bucketsSumsAndTheWireForm() throws {
        var histogram = DurationHistogram()
        for microseconds in [1000, 5000, 5001, 300_000, 20_000_000] { histogram.record(microseconds: microseconds) }
        #expect(histogram.counts == [2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1])  // ≤5 ms twice, ≤10 ms, ≤0.5 s, +Inf
        #expect(histogram.count == 5 && histogram.sumMicroseconds == 20_311_001)
        let decoded = try #require(DurationHistogram(encoded: Substring(histogram.encoded)))
        #expect(decoded == histogram)
        #expect((decoded + histogram).count == 10)
        #expect(DurationHistogram(encoded: "1,2,3") == nil)
        #expect(DurationHistogram(encoded: Substring(histogram.encoded.replacingFirstComma())) == nil)
    }

    @Test func prometheusRendering() {
        var histogram = DurationHistogram()
        histogram.record(microseconds: 2000)
        histogram.record(microseconds: 60_000)
        var text = PrometheusText()
        text.family("corral_request_duration_seconds", "histogram", "Request durations.")
        text.histogram("corral_request_duration_seconds", histogram)
        text.family("corral_open_connections", "gauge", "Open connections.")
        text.sample("corral_open_connections", 3, labels: ["worker": "0", "note": "a \"b\"\n"])
        let lines = text.text.split(separator: "\n").map(String.init)
        #expect(lines.contains("corral_request_duration_seconds_bucket{le=\"0.005\"} 1"))
        #expect(lines.contains("corral_request_duration_seconds_bucket{le=\"0.05\"} 1"))
        #expect(lines.contains("corral_request_duration_seconds_bucket{le=\"0.1\"} 2"))
        #expect(lines.contains("corral_request_duration_seconds_bucket{le=\"+Inf\"} 2"))
        #expect(lines.contains("corral_request_duration_seconds_sum 0.062"))
        #expect(lines.contains("corral_request_duration_seconds_count 2"))
        #expect(lines.contains("corral_open_connections{worker=\"0\",note=\"a \\\"b\\\"\\n\"} 3"))
    }
}

private extension String {
    func replacingFirstComma() -> String {
        guard let comma = firstIndex(of: ",") else { return self }
        return String(self[..<comma]) + ",-" + String(self[index(after: comma)...])
    }
}
