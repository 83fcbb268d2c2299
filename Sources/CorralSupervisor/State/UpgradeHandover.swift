/// What a corrald hands to the binary it re-executes in place (`corralctl upgrade`, SIGUSR2):
/// the listening sockets, its own endpoints (notify, control, metrics), the live workers with the
/// read ends of their output pipes and their supervision state, all fds as numbers that survive
/// the execve; the counts and metrics that must go on. Text, one item per line, under a format
/// number the new image must know (else it refuses the state and says so).
public struct UpgradeHandover: Equatable, Sendable {
    public static let format = 1
    public static let environmentName = "CORRAL_UPGRADE_STATE"

    public struct Socket: Equatable, Sendable {
        public var fd: Int32
        /// As in LISTEN_FDNAMES: a socket unit's name, or `bind-ADDRESS` for corrald's own.
        public var name: String
        public init(fd: Int32, name: String) { self.fd = fd; self.name = name }
    }

    /// One of corrald's own sockets, taken over only when the new configuration still names the
    /// same address (a queued corralctl or scrape then waits instead of being refused).
    public struct Endpoint: Equatable, Sendable {
        /// `ticketKeys`: the memfd of the TLS session-ticket keys (address "memfd").
        public enum Role: String, Sendable { case notify, control, metrics, ticketKeys = "ticket-keys" }
        public var role: Role
        public var fd: Int32
        public var address: String
        public init(role: Role, fd: Int32, address: String) { self.role = role; self.fd = fd; self.address = address }
    }

    public struct Worker: Equatable, Sendable {
        public var pid: Int32
        public var slot: Int
        public var stdout: Int32
        public var stderr: Int32
        /// The generation it was started in, for status; its spawn and last heartbeat (monotonic
        /// ns, the same clock across the exec), so uptime and `timeout` carry on; its STATUS= text.
        public var generation: Int
        public var spawnedAt: Int64
        public var lastPing: Int64
        public var status: String
        public init(pid: Int32, slot: Int, stdout: Int32, stderr: Int32, generation: Int = 0,
                    spawnedAt: Int64 = 0, lastPing: Int64 = 0, status: String = "") {
            self.pid = pid; self.slot = slot; self.stdout = stdout; self.stderr = stderr
            self.generation = generation; self.spawnedAt = spawnedAt; self.lastPing = lastPing; self.status = status
        }
    }

    public var sockets: [Socket]
    public var endpoints: [Endpoint] = []
    public var workers: [Worker]
    /// The version that handed over, for the log and STATUS=.
    public var fromVersion: String
    /// Monotonic nanoseconds when the upgrade began, and when corrald first started.
    public var startedAt: Int64
    public var daemonStartedAt: Int64 = 0
    /// The generation serving, and the reloads started and ended, so the counts go on.
    public var generation = 0
    public var reloadsStarted = 0
    public var reloadsEnded = 0
    /// The Prometheus counters, so they never go backwards across an upgrade.
    public var ledger = MetricsLedger()

    public init(sockets: [Socket], endpoints: [Endpoint] = [], workers: [Worker], fromVersion: String, startedAt: Int64,
                daemonStartedAt: Int64 = 0, generation: Int = 0, reloadsStarted: Int = 0, reloadsEnded: Int = 0,
                ledger: MetricsLedger = MetricsLedger()) {
        self.sockets = sockets
        self.endpoints = endpoints
        self.workers = workers
        self.fromVersion = fromVersion
        self.startedAt = startedAt
        self.daemonStartedAt = daemonStartedAt
        self.generation = generation
        self.reloadsStarted = reloadsStarted
        self.reloadsEnded = reloadsEnded
        self.ledger = ledger
    }

    /// Every fd the state names: CLOEXEC is cleared on these alone across the exec.
    public var fds: [Int32] {
        sockets.map(\.fd) + endpoints.map(\.fd) + workers.flatMap { [$0.stdout, $0.stderr] }
    }

    /// The endpoint of `role` if it is bound to `address`.
    public func endpoint(_ role: Endpoint.Role, at address: String) -> Int32? {
        endpoints.first { $0.role == role && $0.address == address }?.fd
    }

    public var text: String {
        var lines = ["corral-upgrade \(Self.format)", "from \(fromVersion)", "started \(startedAt) \(daemonStartedAt)",
                     "counts \(generation) \(reloadsStarted) \(reloadsEnded)"]
        lines += sockets.map { "socket \($0.fd) \($0.name)" }
        lines += endpoints.map { "endpoint \($0.role.rawValue) \($0.fd) \($0.address)" }
        lines += workers.map {
            "worker \($0.pid) \($0.slot) \($0.stdout) \($0.stderr) \($0.generation) \($0.spawnedAt) \($0.lastPing) \($0.status)"
        }
        lines += ledger.lines.map { "ledger \($0)" }
        return lines.joined(separator: "\n")
    }

    public struct Rejected: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public init(text: String) throws(Rejected) {
        var lines = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header.count == 2, header[0] == "corral-upgrade", let format = Int(header[1]) else {
            throw Rejected(description: "not a corral upgrade state")
        }
        guard format == Self.format else {
            throw Rejected(description: "upgrade state format \(format), this corrald reads format \(Self.format)")
        }
        lines.removeFirst()
        sockets = []
        workers = []
        fromVersion = "?"
        startedAt = 0
        var ledgerLines: [String] = []
        for words in lines {
            let bad = Rejected(description: "bad line in the upgrade state: \(words.joined(separator: " "))")
            switch (words.first, words.count) {
            case ("from", _): fromVersion = words.dropFirst().joined(separator: " ")
            // 0.4.0's corrald wrote `started UPGRADE` and `worker PID SLOT OUT ERR`: the fields
            // it did not have are left at their defaults, so an upgrade from it still works.
            case ("started", 2...3):
                guard let upgrade = Int64(words[1]), let daemon = words.count == 3 ? Int64(words[2]) : 0 else { throw bad }
                (startedAt, daemonStartedAt) = (upgrade, daemon)
            case ("counts", 4):
                guard let g = Int(words[1]), let started = Int(words[2]), let ended = Int(words[3]) else { throw bad }
                (generation, reloadsStarted, reloadsEnded) = (g, started, ended)
            case ("socket", 3):
                guard let fd = Int32(words[1]) else { throw bad }
                sockets.append(Socket(fd: fd, name: words[2]))
            case ("endpoint", 4...):
                guard let role = Endpoint.Role(rawValue: words[1]), let fd = Int32(words[2]) else { throw bad }
                endpoints.append(Endpoint(role: role, fd: fd, address: words[3...].joined(separator: " ")))
            case ("worker", 5):
                guard let pid = Int32(words[1]), let slot = Int(words[2]), let out = Int32(words[3]), let err = Int32(words[4]) else { throw bad }
                workers.append(Worker(pid: pid, slot: slot, stdout: out, stderr: err, generation: generation,
                                      spawnedAt: startedAt, lastPing: startedAt))
            case ("worker", 9...):
                guard let pid = Int32(words[1]), let slot = Int(words[2]), let out = Int32(words[3]), let err = Int32(words[4]),
                      let generation = Int(words[5]), let spawned = Int64(words[6]), let ping = Int64(words[7]) else { throw bad }
                workers.append(Worker(pid: pid, slot: slot, stdout: out, stderr: err, generation: generation,
                                      spawnedAt: spawned, lastPing: ping, status: words[8...].joined(separator: " ")))
            case ("ledger", 2...): ledgerLines.append(words.dropFirst().joined(separator: " "))
            default:
                throw Rejected(description: "unknown line in the upgrade state: \(words.joined(separator: " "))")
            }
        }
        guard let ledger = MetricsLedger(lines: ledgerLines) else {
            throw Rejected(description: "bad metrics in the upgrade state: \(ledgerLines.joined(separator: "; "))")
        }
        self.ledger = ledger
    }
}
