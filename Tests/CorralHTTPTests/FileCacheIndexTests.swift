import CorralHTTP
import Testing

@Suite struct FileCacheIndexTests {
    private func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func boundedInEntriesWithClockEvictionThatSparesWhatWasHit() {
        var index = FileCacheIndex<String>(capacity: 3, byteBudget: 1000)
        for name in ["a", "b", "c"] { index.insert(name, for: key(name), dependencies: [key(name)], bytes: 1) }
        let first = index.value(for: key("a"))
        #expect(first == "a", "a is referenced")
        index.insert("d", for: key("d"), dependencies: [key("d")], bytes: 1)
        #expect(index.count == 3)
        let spared = index.value(for: key("a")), evicted = index.value(for: key("b"))
        #expect(spared == "a", "the hit one is spared")
        #expect(evicted == nil, "the first one not hit since is evicted")
        #expect(index.hits == 2 && index.misses == 1)
    }

    @Test func boundedInBytes() {
        var index = FileCacheIndex<Int>(capacity: 10, byteBudget: 100)
        index.insert(1, for: key("one"), dependencies: [], bytes: 60)
        index.insert(2, for: key("two"), dependencies: [], bytes: 60)
        #expect(index.bytes == 60 && index.count == 1)
        let inserted = index.insert(3, for: key("big"), dependencies: [], bytes: 101)
        #expect(!inserted, "larger than the budget: not cached")
        index.insert(4, for: key("two"), dependencies: [], bytes: 10)
        let replaced = index.value(for: key("two"))
        #expect(index.bytes == 10 && replaced == 4, "replacing a key replaces its bytes")
        #expect(!FileCacheIndex<Int>(capacity: 0, byteBudget: 100).isEmptyAfterInsert, "capacity 0 caches nothing")
    }

    @Test func aChangeDropsWhatDependsOnThePathOrOnADirectoryAboveIt() {
        var index = FileCacheIndex<String>(capacity: 10, byteBudget: 1000)
        index.insert("page", for: key("docs/"), dependencies: [key("docs/index.html"), key("docs/index.html.gz")], bytes: 1)
        index.insert("app", for: key("app.js"), dependencies: [key("app.js"), key("app.js.br"), key("app.js.gz")], bytes: 1)
        index.insert("docsy", for: key("docsy.txt"), dependencies: [key("docsy.txt")], bytes: 1)
        let sibling = index.invalidate(key("app.js.gz")), prefix = index.invalidate(key("doc")), directory = index.invalidate(key("docs"))
        #expect(sibling == 1, "a sibling appearing drops the file")
        #expect(prefix == 0, "a prefix that is not a directory of it")
        #expect(directory == 1, "the directory replaced: docs/ dropped, docsy.txt kept")
        let kept = index.value(for: key("docsy.txt"))
        #expect(kept == "docsy")
        let all = index.invalidate(key(""))
        #expect(all == 1, "the root: everything")
        #expect(index.count == 0 && index.bytes == 0)
    }
}

extension FileCacheIndex<Int> {
    fileprivate var isEmptyAfterInsert: Bool {
        var copy = self
        return copy.insert(1, for: [1], dependencies: [], bytes: 1)
    }
}
