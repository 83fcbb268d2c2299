/// Objects kept for reuse, at most `limit`, and let go when unused: `trim` frees as many as
/// were never taken since the last trim (the fewest spare at any moment in between), so a
/// burst's objects serve the next burst but do not stay for good.
struct SpareList<Element> {
    private var items: [Element] = []
    private var fewest = 0
    let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    var count: Int { items.count }

    mutating func take() -> Element? {
        guard let item = items.popLast() else { return nil }
        fewest = min(fewest, items.count)
        return item
    }

    /// False when the list is full: the caller lets `item` go.
    mutating func give(_ item: Element) -> Bool {
        guard items.count < limit else { return false }
        items.append(item)
        return true
    }

    /// Removes the spares that went unused since the last trim, handing each to `release`;
    /// how many.
    @discardableResult
    mutating func trim(_ release: (Element) -> Void = { _ in }) -> Int {
        let unused = min(fewest, items.count)
        for item in items.prefix(unused) { release(item) }
        items.removeFirst(unused)
        fewest = items.count
        return unused
    }
}
