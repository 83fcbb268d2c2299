import CorralMetrics
import CorralServer
import CorralSupervisor
import Glibc

/// corrald's metrics: the Prometheus endpoint (`metrics_bind`) and statsd's `gunicorn.workers`
/// gauge, once a second as gunicorn's arbiter sends it.
extension Daemon {
    func startMetrics(_ configuration: Configuration) throws {
        if let bind = configuration.metricsBind {
            metricsEndpoint = try MetricsEndpoint(bind: bind, loop: loop, log: log, adopting: handover?.endpoint(.metrics, at: bind)) {
                [unowned self] in prometheusText()
            }
            log.info("Prometheus metrics at http://\(bind)/metrics")
        }
        if let host = configuration.statsdHost {
            let target = try StatsdTarget(host: host, prefix: configuration.statsdPrefix, tags: configuration.dogstatsdTags)
            loop.spawn { [self] in
                var buffer = StatsdBuffer(prefix: target.prefix, tags: target.tags)
                while !state.shuttingDown {
                    buffer.gauge("gunicorn.workers", state.serving.count { $0.state == .running })
                    buffer.flush { target.socket.send($0) }
                    await loop.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Everything at one instant. Per-worker series are labelled by slot, so a replaced worker
    /// continues its slot's counters instead of starting a new series.
    func prometheusText() -> String {
        var text = PrometheusText()
        let slots = 0..<state.settings.workers
        let bySlot = Dictionary(grouping: state.workers.values, by: \.slot)
        let now = loop.now

        text.family("corral_generation", "gauge", "The generation of workers serving (each reload starts a new one).")
        text.sample("corral_generation", state.generation)
        text.family("corral_uptime_seconds", "gauge", "Seconds since corrald started.")
        text.sample("corral_uptime_seconds", Double(now - startedAt) / 1e9)
        text.family("corral_workers", "gauge", "Workers running (READY=1 sent) in the serving generation.")
        text.sample("corral_workers", state.serving.count { $0.state == .running })

        text.family("corral_worker_requests_total", "counter", "Requests served, by worker slot, since corrald started.")
        for slot in slots {
            let pids = (bySlot[slot] ?? []).map(\.pid)
            text.sample("corral_worker_requests_total", metricsLedger.requests(slot: slot, livePids: pids), labels: ["worker": String(slot)])
        }
        text.family("corral_worker_open_connections", "gauge", "Open client connections, by worker slot.")
        for slot in slots {
            let open = (bySlot[slot] ?? []).reduce(0) { $0 + (metricsLedger.reports[$1.pid]?.connections ?? 0) }
            text.sample("corral_worker_open_connections", open, labels: ["worker": String(slot)])
        }
        text.family("corral_worker_requests_in_flight", "gauge", "Requests a corral-python worker is running, by worker slot.")
        for slot in slots {
            let reported = (bySlot[slot] ?? []).compactMap { metricsLedger.reports[$0.pid]?.inFlight }
            if !reported.isEmpty { text.sample("corral_worker_requests_in_flight", reported.reduce(0, +), labels: ["worker": String(slot)]) }
        }
        text.family("corral_worker_restarts_total", "counter", "Workers that died without being asked to (and were replaced), by slot.")
        for slot in slots {
            text.sample("corral_worker_restarts_total", metricsLedger.restarts[slot, default: 0], labels: ["worker": String(slot)])
        }
        text.family("corral_worker_uptime_seconds", "gauge", "Seconds since the slot's serving worker started.")
        for worker in state.serving where worker.state == .running {
            text.sample("corral_worker_uptime_seconds", Double(now - worker.spawnedAt) / 1e9, labels: ["worker": String(worker.slot)])
        }
        text.family("corral_reloads_total", "counter", "Reloads (SIGHUP, corralctl reload) by outcome.")
        text.sample("corral_reloads_total", metricsLedger.reloadsSucceeded, labels: ["outcome": "succeeded"])
        text.sample("corral_reloads_total", metricsLedger.reloadsFailed, labels: ["outcome": "failed"])
        text.family("corral_request_duration_seconds", "histogram", "Request durations, head read to response written, all workers.")
        text.histogram("corral_request_duration_seconds", metricsLedger.allDurations)
        return text.text
    }
}
