/// What a corrald hands to the binary it re-executes in place (`corralctl upgrade`, SIGUSR2):
/// the listening sockets and the live workers with the read ends of their output pipes, all as
/// fd numbers that survive the execve, and why it upgraded. Text, one item per line, under a
/// version number the new image must know (else it refuses the state and says so).
public struct UpgradeHandover: Equatable, Sendable {
    public static let format = 1
    public static let environmentName = "CORRAL_UPGRADE_STATE"

    public struct Socket: Equatable, Sendable {
        public var fd: Int32
        /// As in LISTEN_FDNAMES: a socket unit's name, or `bind-ADDRESS` for corrald's own.
        public var name: String
        public init(fd: Int32, name: String) { self.fd = fd; self.name = name }
    }

    public struct Worker: Equatable, Sendable {
        public var pid: Int32
        public var slot: Int
        public var stdout: Int32
        public var stderr: Int32
        public init(pid: Int32, slot: Int, stdout: Int32, stderr: Int32) {
            self.pid = pid; self.slot = slot; self.stdout = stdout; self.stderr = stderr
        }
    }

    public var sockets: [Socket]
    public var workers: [Worker]
    /// The version that handed over, for the log and STATUS=.
    public var fromVersion: String
    /// Monotonic nanoseconds when the upgrade began (same clock across the exec).
    public var startedAt: Int64
    /// The generation serving, and the reloads started and ended, so the counts go on.
    public var generation = 0
    public var reloadsStarted = 0
    public var reloadsEnded = 0

    public init(sockets: [Socket], workers: [Worker], fromVersion: String, startedAt: Int64,
                generation: Int = 0, reloadsStarted: Int = 0, reloadsEnded: Int = 0) {
        self.sockets = sockets
        self.workers = workers
        self.fromVersion = fromVersion
        self.startedAt = startedAt
        self.generation = generation
        self.reloadsStarted = reloadsStarted
        self.reloadsEnded = reloadsEnded
    }

    public var text: String {
        var lines = ["corral-upgrade \(Self.format)", "from \(fromVersion)", "started \(startedAt)",
                     "counts \(generation) \(reloadsStarted) \(reloadsEnded)"]
        lines += sockets.map { "socket \($0.fd) \($0.name)" }
        lines += workers.map { "worker \($0.pid) \($0.slot) \($0.stdout) \($0.stderr)" }
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
        for words in lines {
            switch (words.first, words.count) {
            case ("from", _): fromVersion = words.dropFirst().joined(separator: " ")
            case ("started", 2): startedAt = Int64(words[1]) ?? 0
            case ("counts", 4):
                guard let g = Int(words[1]), let started = Int(words[2]), let ended = Int(words[3]) else {
                    throw Rejected(description: "bad counts line: \(words.joined(separator: " "))")
                }
                (generation, reloadsStarted, reloadsEnded) = (g, started, ended)
            case ("socket", 3):
                guard let fd = Int32(words[1]) else { throw Rejected(description: "bad socket line: \(words.joined(separator: " "))") }
                sockets.append(Socket(fd: fd, name: words[2]))
            case ("worker", 5):
                guard let pid = Int32(words[1]), let slot = Int(words[2]), let out = Int32(words[3]), let err = Int32(words[4]) else {
                    throw Rejected(description: "bad worker line: \(words.joined(separator: " "))")
                }
                workers.append(Worker(pid: pid, slot: slot, stdout: out, stderr: err))
            default:
                throw Rejected(description: "unknown line in the upgrade state: \(words.joined(separator: " "))")
            }
        }
    }
}
