/// The bookkeeping of an open-file cache, without I/O: values by key (a request's relative path),
/// bounded in entries and bytes, evicted by CLOCK (a hit sets a bit, eviction passes over set
/// bits once, clearing them), and dropped when a path they depend on changes (the file itself,
/// its precompressed siblings; the change of a directory drops everything under it).
public struct FileCacheIndex<Value> {
    struct Node {
        var value: Value
        var key: [UInt8]
        var dependencies: [[UInt8]]
        var bytes: Int
        var referenced: Bool
    }

    public let capacity: Int
    public let byteBudget: Int
    private var slots: [Node?] = []
    private var freeSlots: [Int] = []
    private var positions: [[UInt8]: Int] = [:]
    private var hand = 0
    public private(set) var bytes = 0
    /// Lookups that found a value, and that did not.
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(capacity: Int, byteBudget: Int) {
        self.capacity = max(0, capacity)
        self.byteBudget = max(0, byteBudget)
        positions.reserveCapacity(self.capacity)
    }

    public var count: Int { positions.count }

    public var values: [Value] { slots.compactMap { $0?.value } }

    /// The value cached for `key` (counted as a hit or a miss).
    public mutating func value(for key: [UInt8]) -> Value? {
        guard let position = positions[key] else {
            misses += 1
            return nil
        }
        hits += 1
        slots[position]!.referenced = true
        return slots[position]!.value
    }

    /// Caches `value` for `key` (replacing what was there), evicting until it fits; false when it
    /// cannot fit at all (more bytes than the budget, or a capacity of 0).
    @discardableResult
    public mutating func insert(_ value: Value, for key: [UInt8], dependencies: [[UInt8]], bytes: Int) -> Bool {
        remove(key)
        guard capacity > 0, bytes <= byteBudget else { return false }
        while positions.count >= capacity || self.bytes + bytes > byteBudget { evictOne() }
        let node = Node(value: value, key: key, dependencies: dependencies, bytes: bytes, referenced: false)
        let position: Int
        if let free = freeSlots.popLast() {
            position = free
            slots[position] = node
        } else {
            position = slots.count
            slots.append(node)
        }
        positions[key] = position
        self.bytes += bytes
        return true
    }

    /// Drops every value that depends on `path` or on anything under it (`path/…`); how many.
    @discardableResult
    public mutating func invalidate<Path: Collection<UInt8>>(_ path: Path) -> Int {
        var dropped: [[UInt8]] = []
        for case let node? in slots where node.dependencies.contains(where: { Self.isAtOrUnder($0, path) }) {
            dropped.append(node.key)
        }
        for key in dropped { remove(key) }
        return dropped.count
    }

    public mutating func removeAll() {
        slots.removeAll()
        freeSlots.removeAll()
        positions.removeAll(keepingCapacity: true)
        hand = 0
        bytes = 0
    }

    /// `dependency` is `path` itself, or lies under it (`path` is a directory of it); the empty
    /// path is the root, above everything.
    public static func isAtOrUnder<Path: Collection<UInt8>>(_ dependency: [UInt8], _ path: Path) -> Bool {
        if path.isEmpty { return true }
        guard dependency.count >= path.count, dependency.starts(with: path) else { return false }
        return dependency.count == path.count || dependency[path.count] == UInt8(ascii: "/")
    }

    private mutating func remove(_ key: [UInt8]) {
        guard let position = positions.removeValue(forKey: key) else { return }
        bytes -= slots[position]!.bytes
        slots[position] = nil
        freeSlots.append(position)
    }

    private mutating func evictOne() {
        guard !positions.isEmpty else { return }
        while true {
            if hand >= slots.count { hand = 0 }
            defer { hand += 1 }
            guard let node = slots[hand] else { continue }
            if node.referenced {
                slots[hand]!.referenced = false
            } else {
                remove(node.key)
                return
            }
        }
    }
}
