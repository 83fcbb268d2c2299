/// How long to wait before restarting a slot whose worker died: the first restart is immediate,
/// then the delay doubles up to a cap, so a crash loop never spins. A worker that stayed up for
/// `stableAfter` resets it. While no worker serves, no restart waits longer than
/// `capWhileNoneServes`: backing off protects the machine, not at the price of the service.
public struct RestartBackoff: Equatable, Sendable {
    public var initial: Int64
    public var cap: Int64
    public var stableAfter: Int64
    public var capWhileNoneServes: Int64
    public private(set) var failures = 0

    /// Nanoseconds: 0.5 s doubling to 30 s (1 s while no worker serves); 10 s of uptime counts as
    /// stable.
    public init(initial: Int64 = 500_000_000, cap: Int64 = 30_000_000_000, stableAfter: Int64 = 10_000_000_000,
                capWhileNoneServes: Int64 = 1_000_000_000) {
        self.initial = initial
        self.cap = cap
        self.stableAfter = stableAfter
        self.capWhileNoneServes = capWhileNoneServes
    }

    /// Records a death after `uptime` nanoseconds and returns the delay before the restart.
    public mutating func delay(afterUptime uptime: Int64) -> Int64 {
        if uptime >= stableAfter { failures = 0 }
        defer { failures += 1 }
        guard failures > 0 else { return 0 }
        let shift = min(failures - 1, 40)
        return min(cap, initial << shift)
    }
}
