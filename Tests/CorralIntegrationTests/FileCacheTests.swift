import Foundation
import Testing

/// corral-worker's open-file cache is never stale: a file changed in place, replaced by rename,
/// truncated or deleted is seen on the very next request, while other clients keep the loop busy.
/// Small files (held in memory) and large ones (held open, sent with sendfile) alike.
@Suite(.serialized) final class FileCacheTests {
    let root = TemporaryDirectory()
    let outside = TemporaryDirectory()
    let worker: WorkerProcess
    let rounds = 20

    init() throws {
        root.write("busy.txt", "keeps the loop busy\n")
        worker = try WorkerProcess(arguments: ["--root", root.path])
    }

    private func get(_ path: String, headers: String = "") throws -> HTTPResponse {
        try #require(try RawClient.get(port: worker.port, path, headers: headers))
    }

    /// `text` of `size` bytes: small ones are held in memory, large ones by descriptor.
    private func contents(_ round: Int, size: Int) -> String {
        let stamp = "round \(round) "
        return stamp + String(repeating: "x", count: max(0, size - stamp.count))
    }

    /// Truncates and rewrites the file itself (same inode), as `>` in a shell does.
    private func writeInPlace(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        #expect(fd >= 0)
        let bytes = Array(text.utf8)
        #expect(write(fd, bytes, bytes.count) == bytes.count)
        close(fd)
    }

    /// Each round: the file is served (and so cached) a few times, changed by `change`, and the
    /// next request must show the change.
    private func checkEveryRound(size: Int, _ change: (String, Int) -> String?) throws {
        let load = LoadClients(port: worker.port, clients: 3, path: "/busy.txt")
        defer { _ = load.stop() }
        let name = "file-\(size).txt", path = root.file("file-\(size).txt")
        for round in 0..<rounds {
            writeInPlace(path, contents(round, size: size))
            for _ in 0..<3 { #expect(try get("/\(name)").text == contents(round, size: size)) }
            let expected = change(path, round)
            let response = try get("/\(name)")
            if let expected {
                #expect(response.status == 200 && response.text == expected,
                        "round \(round): \(response.status), \(response.text.prefix(40))… (\(response.body.count) bytes)")
            } else {
                #expect(response.status == 404, "round \(round): deleted, yet \(response.status)")
            }
        }
    }

    @Test(arguments: [13, 200_000])
    func aFileChangedInPlaceIsSeenOnTheNextRequest(size: Int) throws {
        try checkEveryRound(size: size) { path, round in
            let changed = "changed in place \(round)"
            writeInPlace(path, changed)
            return changed
        }
    }

    @Test(arguments: [13, 200_000])
    func aFileReplacedByRenameIsSeenOnTheNextRequest(size: Int) throws {
        try checkEveryRound(size: size) { path, round in
            let deployed = contents(round + 1000, size: size)
            writeInPlace(path + ".new", deployed)
            #expect(rename(path + ".new", path) == 0)
            return deployed
        }
    }

    @Test(arguments: [13, 200_000])
    func aTruncatedFileIsSeenOnTheNextRequest(size: Int) throws {
        try checkEveryRound(size: size) { path, round in
            #expect(truncate(path, 5) == 0)
            return String(contents(round, size: size).prefix(5))
        }
    }

    @Test(arguments: [13, 200_000])
    func aDeletedFileIsGoneOnTheNextRequest(size: Int) throws {
        try checkEveryRound(size: size) { path, _ in
            #expect(unlink(path) == 0)
            return nil
        }
    }

    @Test func aDirectoryReplacedByRenameIsSeenOnTheNextRequest() throws {
        let load = LoadClients(port: worker.port, clients: 3, path: "/busy.txt")
        defer { _ = load.stop() }
        root.write("site/index.html", "release 0\n")
        for release in 1...rounds {
            #expect(try get("/site/").text == "release \(release - 1)\n")
            #expect(try get("/site/index.html").text == "release \(release - 1)\n")
            root.write("site.new/index.html", "release \(release)\n")
            #expect(shell("mv \(root.file("site")) \(root.file("site.old")) && mv \(root.file("site.new")) \(root.file("site")) && rm -r \(root.file("site.old"))").status == 0)
            #expect(try get("/site/").text == "release \(release)\n", "release \(release), through index.html")
            #expect(try get("/site/index.html").text == "release \(release)\n", "release \(release)")
        }
    }

    @Test func filesTheDirectoryWatchCannotVouchForAreServedFreshEveryTime() throws {
        // A symlink's target, and a file with a second hard link outside the root, change where
        // no watched directory on the requested path sees it: such files are never cached.
        root.write("data/real.txt", "real 0")
        try FileManager.default.createSymbolicLink(atPath: root.file("alias.txt"), withDestinationPath: "data/real.txt")
        root.write("linked.txt", "linked 0")
        #expect(shell("ln \(root.file("linked.txt")) \(outside.file("hard.txt"))").status == 0)
        for round in 1...5 {
            for _ in 0..<3 { _ = try get("/alias.txt"); _ = try get("/linked.txt") }
            #expect(shell("printf %s 'real \(round)' > \(root.file("data/real.txt")) && printf %s 'linked \(round)' > \(outside.file("hard.txt"))").status == 0)
            #expect(try get("/alias.txt").text == "real \(round)", "through the symlink")
            #expect(try get("/linked.txt").text == "linked \(round)", "changed through the other hard link")
        }
    }

    @Test func aPermissionChangeIsSeenOnTheNextRequest() throws {
        guard getuid() != 0 else {
            // root reads anything: the change that matters to root is the file's mode bits being
            // noticed at all, shown by a touch that changes the validators instead.
            root.write("stamp.txt", "stamp")
            let before = try get("/stamp.txt").header("last-modified")
            #expect(shell("touch -m -d '2001-02-03 04:05:06 UTC' \(root.file("stamp.txt"))").status == 0)
            #expect(try get("/stamp.txt").header("last-modified") == "Sat, 03 Feb 2001 04:05:06 GMT", "was \(before ?? "-")")
            return
        }
        root.write("private.txt", "private")
        #expect(try get("/private.txt").status == 200)
        chmod(root.file("private.txt"), 0)
        #expect(try get("/private.txt").status == 403)
    }
}

/// The cache's hit rate in the worker's STATUS=, as corrald shows it, and the flag that turns it off.
@Suite(.serialized) struct FileCacheStatusTests {
    @Test func theHitRateIsInStatus() throws {
        let root = TemporaryDirectory()
        root.write("a.txt", "alpha\n")
        root.write("index.html", "home\n")
        let daemon = try CorraldProcess(["-w", "1", "-t", "2", "--worker-cmd", "\(Binaries.path("corral-worker")) --root \(root.path)"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        for _ in 0..<99 { #expect(try RawClient.get(port: daemon.port, "/a.txt")?.status == 200) }
        let socket = "unix://\(daemon.directory.file("corrald.sock"))"
        var status = ""
        #expect(eventually {
            status = shell("\(Binaries.path("corralctl")) status --json -s \(socket)").output
            return status.contains("cache_hit_rate=0.9") && status.contains("cache_entries=2")
        }, "a.txt and /: a miss each, then hits: \(status)")
    }

    @Test func theCacheStaysWithinItsBounds() throws {
        let root = TemporaryDirectory()
        for name in ["a", "b", "c", "d"] { root.write("\(name).txt", "small \(name)\n") }
        root.write("big.txt", String(repeating: "x", count: 500))
        root.write("index.html", "home\n")
        let daemon = try CorraldProcess(["-w", "1", "-t", "2", "--worker-cmd",
                                         "\(Binaries.path("corral-worker")) --root \(root.path) --cache-entries 2 --cache-bytes 100"])
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        for _ in 0..<3 {
            for name in ["a", "b", "c", "d", "big"] {
                #expect(try RawClient.get(port: daemon.port, "/\(name).txt")?.text.hasPrefix(name == "big" ? "xxx" : "small \(name)") == true)
            }
        }
        let socket = "unix://\(daemon.directory.file("corrald.sock"))"
        var status = ""
        #expect(eventually {
            status = shell("\(Binaries.path("corralctl")) status --json -s \(socket)").output
            return status.contains("requests=") && status.contains("cache_entries=2") && !status.contains("requests=1 ")
        }, "2 entries at most; big.txt (500 bytes) is over the 100-byte budget: \(status)")
    }

    @Test func cacheEntriesZeroTurnsItOff() throws {
        let root = TemporaryDirectory()
        root.write("a.txt", "alpha\n")
        let worker = try WorkerProcess(arguments: ["--root", root.path, "--cache-entries", "0"])
        #expect(try RawClient.get(port: worker.port, "/a.txt")?.text == "alpha\n")
        let refused = shell("\(Binaries.path("corral-worker")) --root \(root.path) --cache-entries=-1 2>&1")
        #expect(refused.status != 0 && refused.output.contains("--cache-entries must be 0 or more"), "\(refused.output)")
    }
}
