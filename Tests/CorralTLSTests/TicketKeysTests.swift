import CorralTLS
import Glibc
import Testing

/// The session-ticket keys as corrald keeps them and the workers see them: rotation keeps the
/// last three, a worker's read-only mapping follows corrald's writes, and an upgraded corrald
/// continues with the same keys in a region of its own.
@Suite struct TicketKeysTests {
    @Test func rotationPutsANewKeyFirstAndKeepsTheTwoBefore() throws {
        let keys = try TicketKeys()
        let first = keys.snapshot()
        #expect(first.count == 1)
        #expect(first[0].count == 80)
        keys.rotate()
        keys.rotate()
        let three = keys.snapshot()
        #expect(three.count == 3)
        #expect(three[2] == first[0], "the first key still decrypts after two rotations")
        #expect(Set(three).count == 3)
        keys.rotate()
        #expect(!keys.snapshot().contains(first[0]), "and is gone after the third")
    }

    @Test func aWorkersReadOnlyMappingFollowsCorraldsWrites() throws {
        let keys = try TicketKeys()
        let worker = try TicketKeys(reading: dup(keys.fd))
        #expect(worker.snapshot() == keys.snapshot())
        keys.rotate()
        #expect(worker.snapshot() == keys.snapshot())
        // The region is sealed: nobody else can map it for writing.
        let writable = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, keys.fd, 0)
        #expect(writable == MAP_FAILED)
    }

    @Test func anUpgradedCorraldContinuesWithTheSameKeys() throws {
        let keys = try TicketKeys()
        keys.rotate()
        let continued = try TicketKeys(continuing: dup(keys.fd))
        #expect(continued.snapshot() == keys.snapshot())
        #expect(continued.fd != keys.fd)
        continued.rotate()
        #expect(Array(continued.snapshot().dropFirst()) == keys.snapshot())
    }
}
