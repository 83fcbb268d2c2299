/// Coroutines waiting in `EventLoop.sleep`, as a binary min-heap on their deadlines.
struct SleeperQueue {
    private var heap: [(deadline: Int64, continuation: UnsafeContinuation<Void, Never>)] = []

    var nextDeadline: Int64? { heap.first?.deadline }

    mutating func insert(deadline: Int64, _ continuation: UnsafeContinuation<Void, Never>) {
        heap.append((deadline, continuation))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    /// Resumes every sleeper whose deadline is at or before `now`.
    mutating func wakeAll(until now: Int64) {
        while let first = heap.first, first.deadline <= now {
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown()
            }
            first.continuation.resume()
        }
    }

    private mutating func siftDown() {
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
