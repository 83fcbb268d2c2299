import Glibc

/// picoev's timeout ring: `slotCount` slots, each a bit vector with one bit per fd plus a summary
/// vector (one bit per word) so empty words are skipped. Arming, re-arming and expiring cost O(1)
/// and allocate nothing. Timeouts longer than the ring's span land in its last slot and are
/// re-armed when that slot comes round, so any deadline works. Touched by the loop thread only.
public struct TimerWheel {
    public static let slotCount = 128
    public let capacity: Int
    public let resolution: Int64
    private let words: Int
    private let summaryWords: Int
    private let bits: UnsafeMutablePointer<UInt64>
    private let summary: UnsafeMutablePointer<UInt64>
    private let deadlines: UnsafeMutablePointer<Int64>
    /// The slot each fd sits in, `unarmed` when none.
    private let slotOf: UnsafeMutablePointer<UInt8>
    private static let unarmed: UInt8 = 0xFF
    /// The last tick whose slot was expired; arming is relative to it.
    private var processedTick: Int64
    public private(set) var armedCount = 0

    /// `capacity` is the fd table size; `resolution` the slot width in nanoseconds.
    public init(capacity: Int, resolution: Int64, now: Int64) {
        self.capacity = capacity
        self.resolution = resolution
        words = (capacity + 63) / 64
        summaryWords = (words + 63) / 64
        // calloc: pages that are never touched (high fd numbers) cost no memory.
        bits = calloc(Self.slotCount * words, 8)!.assumingMemoryBound(to: UInt64.self)
        summary = calloc(Self.slotCount * summaryWords, 8)!.assumingMemoryBound(to: UInt64.self)
        deadlines = calloc(capacity, 8)!.assumingMemoryBound(to: Int64.self)
        slotOf = malloc(capacity)!.assumingMemoryBound(to: UInt8.self)
        memset(slotOf, Int32(Self.unarmed), capacity)
        processedTick = now / resolution
    }

    /// Frees the storage; the wheel must not be used afterwards.
    public func deallocate() {
        free(bits); free(summary); free(deadlines); free(slotOf)
    }

    public func deadline(of fd: Int32) -> Int64? {
        slotOf[Int(fd)] == Self.unarmed ? nil : deadlines[Int(fd)]
    }

    public mutating func arm(_ fd: Int32, deadline: Int64) {
        let i = Int(fd)
        precondition(i >= 0 && i < capacity, "fd \(fd) outside the timer wheel")
        if slotOf[i] != Self.unarmed { clearBit(i, slot: Int(slotOf[i])) } else { armedCount += 1 }
        deadlines[i] = deadline
        let wanted = (deadline + resolution - 1) / resolution
        let tick = min(max(wanted, processedTick + 1), processedTick + Int64(Self.slotCount - 1))
        let slot = Int(tick & Int64(Self.slotCount - 1))
        slotOf[i] = UInt8(slot)
        let word = slot * words + i >> 6
        bits[word] |= 1 << UInt64(i & 63)
        summary[slot * summaryWords + (i >> 6) >> 6] |= 1 << UInt64((i >> 6) & 63)
    }

    public mutating func disarm(_ fd: Int32) {
        let i = Int(fd)
        guard i >= 0, i < capacity, slotOf[i] != Self.unarmed else { return }
        clearBit(i, slot: Int(slotOf[i]))
        slotOf[i] = Self.unarmed
        armedCount -= 1
    }

    /// The time at which the next slot is due, or nil when nothing is armed (the loop may sleep).
    public var nextTickTime: Int64? {
        armedCount == 0 ? nil : (processedTick + 1) * resolution
    }

    /// Calls `expired` for every fd whose deadline is at or before `now`; each is disarmed first,
    /// so the callback may re-arm it.
    public mutating func expire(now: Int64, _ expired: (Int32) -> Void) {
        let current = now / resolution
        guard current > processedTick else { return }
        let steps = min(current - processedTick, Int64(Self.slotCount))
        let firstTick = current - steps + 1
        processedTick = current
        for tick in firstTick...current {
            let slot = Int(tick & Int64(Self.slotCount - 1))
            for s in 0..<summaryWords where summary[slot * summaryWords + s] != 0 {
                var summaryBits = summary[slot * summaryWords + s]
                while summaryBits != 0 {
                    let w = s << 6 + summaryBits.trailingZeroBitCount
                    summaryBits &= summaryBits - 1
                    var wordBits = bits[slot * words + w]
                    while wordBits != 0 {
                        let fd = w << 6 + wordBits.trailingZeroBitCount
                        wordBits &= wordBits - 1
                        clearBit(fd, slot: slot)
                        slotOf[fd] = Self.unarmed
                        armedCount -= 1
                        if deadlines[fd] <= now {
                            expired(Int32(fd))
                        } else {
                            arm(Int32(fd), deadline: deadlines[fd])
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    private func clearBit(_ i: Int, slot: Int) {
        let word = slot * words + i >> 6
        bits[word] &= ~(1 << UInt64(i & 63))
        if bits[word] == 0 {
            summary[slot * summaryWords + (i >> 6) >> 6] &= ~(1 << UInt64((i >> 6) & 63))
        }
    }
}
