import CorralSupervisor
import Glibc

/// max_worker_rss: once a second, the serving workers' resident memory from /proc; a worker past
/// the limit is recycled gracefully (SupervisorState.memoryMeasured) before the kernel's OOM
/// killer, which a unit's MemoryMax= brings closer, would kill it mid-request.
extension Daemon {
    func watchWorkerMemory() {
        loop.spawn { [self] in
            while !state.shuttingDown {
                await loop.sleep(for: .seconds(1))
                let limit = state.settings.maxWorkerRSS
                guard limit > 0 else { continue }
                for worker in state.serving where worker.state == .running {
                    guard let resident = Self.residentBytes(of: worker.pid) else { continue }
                    let actions = state.memoryMeasured(pid: worker.pid, residentBytes: resident, now: loop.now)
                    guard !actions.isEmpty else { continue }
                    let up = (loop.now - (worker.readyAt ?? loop.now)) / 1_000_000_000
                    let soon = up < 10 ? " (only \(up) s after it booted: is max_worker_rss below what a worker needs?)" : ""
                    logger.warning("worker \(worker.slot) (pid \(worker.pid)) uses \(resident >> 20) MiB, over max_worker_rss \(limit >> 20) MiB; recycling it: a new worker boots in its slot, then it drains\(soon)",
                                   metadata: event("memory-recycle", worker, ["rss_bytes": "\(resident)"]))
                    perform(actions)
                }
            }
        }
    }

    /// Says so when the workers could all reach max_worker_rss (and one more boot beside a recycled
    /// one) above the memory.max of corrald's cgroup (systemd's MemoryMax=): the OOM killer would
    /// come first.
    func checkMemoryBudget(_ configuration: Configuration) {
        guard configuration.maxWorkerRSS > 0, let cgroupLimit = Self.cgroupMemoryMax() else { return }
        let (budget, overflow) = (Int64(configuration.maxWorkerRSS) << 20).multipliedReportingOverflow(by: Int64(configuration.workers + 1))
        guard overflow || budget > cgroupLimit else { return }
        logger.warning("max_worker_rss \(configuration.maxWorkerRSS) MiB × (\(configuration.workers) workers + 1 replacing one) = \(budget >> 20) MiB is above this cgroup's memory.max (\(cgroupLimit >> 20) MiB, systemd's MemoryMax=): the OOM killer may kill a worker before it is recycled")
    }

    /// Resident bytes of `pid`: the second field of /proc/PID/statm, in pages.
    static func residentBytes(of pid: Int32) -> Int64? {
        guard let words = FileText.read("/proc/\(pid)/statm")?.split(separator: " "), words.count > 1,
              let pages = Int64(words[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The memory limit of corrald's own cgroup: memory.max (cgroup v2) or memory.limit_in_bytes
    /// (v1's memory hierarchy, where systemd puts MemoryMax=); nil when there is none.
    static func cgroupMemoryMax() -> Int64? {
        let memberships = FileText.read("/proc/self/cgroup")?.split(separator: "\n") ?? []
        var candidates: [String] = []
        for membership in memberships {
            let fields = membership.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            if fields[1] == "memory" { candidates.append("/sys/fs/cgroup/memory\(fields[2])/memory.limit_in_bytes") }
            if fields[0] == "0" && fields[1].isEmpty { candidates.append("/sys/fs/cgroup\(fields[2])/memory.max") }
        }
        for path in candidates {
            guard let text = FileText.read(path), let limit = Int64(text.split(separator: "\n").first ?? "") else { continue }
            return limit < 1 << 60 ? limit : nil   // v1 writes "unlimited" as a huge number
        }
        return nil
    }
}
