import CCorral
import CTLS
import Glibc

/// Session-ticket keys every worker shares, so that a client resumes its TLS session on
/// whichever worker accepts its next connection (nginx shares its keys through shared memory
/// too; gunicorn's workers each have their own, so their clients never resume). corrald keeps
/// them in a memfd only it can write and hands the fd to each worker; it rotates them: the
/// newest key encrypts new tickets, it and the `kept - 1` before it decrypt.
public final class TicketKeys: @unchecked Sendable {
    /// A key: a 16-byte name (sent in the ticket), AES-256-CBC's key, HMAC-SHA256's key.
    static let keySize = 16 + 32 + 32
    /// Keys kept: a ticket stays good for two rotations after its key stops encrypting.
    public static let kept = 3
    /// The payload behind the sequence counter: how many keys, then the keys, newest first.
    static let payloadSize = 8 + kept * keySize
    static let regionSize = 4096

    public let fd: Int32
    let region: UnsafeMutableRawPointer
    private let writable: Bool

    /// corrald's: a new region with one fresh key.
    public convenience init() throws(TLSError) {
        try self.init(keys: [Self.freshKey()])
    }

    /// corrald's after an upgrade in place: a region of its own (the old one stays sealed against
    /// it), with the keys the previous corrald handed over in `fd`, so tickets issued before the
    /// upgrade still resume. `fd` is closed.
    public convenience init(continuing fd: Int32) throws(TLSError) {
        let previous = try TicketKeys(reading: fd)
        let keys = previous.snapshot()
        close(fd)
        try self.init(keys: keys.isEmpty ? [Self.freshKey()] : keys)
    }

    private init(keys: [[UInt8]]) throws(TLSError) {
        var mapping: UnsafeMutableRawPointer?
        let fd = corral_shared_region("corral-ticket-keys", Self.regionSize, &mapping)
        guard fd >= 0, let mapping else { throw TLSError("cannot make the session-ticket key region: \(String(cString: strerror(errno)))") }
        self.fd = fd
        region = mapping
        writable = true
        publish(keys)
    }

    /// A worker's: the region corrald passed, mapped read-only.
    public init(reading fd: Int32) throws(TLSError) {
        guard let mapping = mmap(nil, Self.regionSize, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            throw TLSError("cannot map the session-ticket keys (fd \(fd)): \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        region = mapping
        writable = false
    }

    deinit {
        munmap(region, Self.regionSize)
    }

    /// A new key in front; the oldest beyond `kept` is forgotten (corrald only).
    public func rotate() {
        precondition(writable, "only corrald rotates the ticket keys")
        publish(Array(([Self.freshKey()] + snapshot()).prefix(Self.kept)))
    }

    /// The keys, newest first.
    public func snapshot() -> [[UInt8]] {
        withUnsafeTemporaryAllocation(byteCount: Self.payloadSize, alignment: 8) { payload in
            guard Self.read(region, into: payload.baseAddress!) else { return [] }
            let count = min(Int(payload.load(as: UInt64.self)), Self.kept)
            return (0..<count).map { Array(payload[(8 + $0 * Self.keySize)..<(8 + ($0 + 1) * Self.keySize)]) }
        }
    }

    /// Makes `context`'s tickets use these keys, for the life of the process (which keeps one
    /// set: the callback cannot carry a pointer of its own).
    public func install(on context: TLSContext) {
        TicketKeys.installed = self
        _ = SSL_CTX_set_tlsext_ticket_key_evp_cb(context.context, ticketKeyCallback)
    }

    nonisolated(unsafe) static var installed: TicketKeys?

    private func publish(_ keys: [[UInt8]]) {
        var payload = [UInt8](repeating: 0, count: Self.payloadSize)
        withUnsafeBytes(of: UInt64(keys.count).littleEndian) { payload.replaceSubrange(0..<8, with: $0) }
        for (index, key) in keys.enumerated() {
            payload.replaceSubrange((8 + index * Self.keySize)..<(8 + (index + 1) * Self.keySize), with: key)
        }
        payload.withUnsafeBytes { corral_seqlock_write(region, $0.baseAddress, $0.count) }
    }

    static func read(_ region: UnsafeRawPointer, into payload: UnsafeMutableRawPointer) -> Bool {
        corral_seqlock_read(region, payload, payloadSize) == 1
    }

    private static func freshKey() -> [UInt8] {
        var key = [UInt8](repeating: 0, count: keySize)
        precondition(RAND_bytes(&key, Int32(keySize)) == 1, "OpenSSL's random generator failed")
        return key
    }
}

/// OpenSSL's ticket-key callback: encrypting (`mode` 1), the newest key and a random IV;
/// decrypting, the key the ticket names: 1 if it is the newest, 2 if older (the client gets a
/// ticket under the newest), 0 if it is gone (a full handshake).
private func ticketKeyCallback(_ ssl: OpaquePointer?, _ name: UnsafeMutablePointer<UInt8>?, _ iv: UnsafeMutablePointer<UInt8>?,
                               _ cipher: OpaquePointer?, _ mac: OpaquePointer?, _ mode: Int32) -> Int32 {
    guard let region = TicketKeys.installed?.region, let name, let iv else { return -1 }
    return withUnsafeTemporaryAllocation(byteCount: TicketKeys.payloadSize, alignment: 8) { payload -> Int32 in
        guard TicketKeys.read(region, into: payload.baseAddress!) else { return -1 }
        let count = min(Int(payload.load(as: UInt64.self)), TicketKeys.kept)
        func key(_ index: Int) -> UnsafeMutableRawPointer { payload.baseAddress! + 8 + index * TicketKeys.keySize }
        let index: Int
        if mode == 1 {
            guard count > 0, RAND_bytes(iv, 16) == 1 else { return -1 }
            index = 0
            memcpy(name, key(0), 16)
        } else {
            guard let found = (0..<count).first(where: { memcmp(key($0), name, 16) == 0 }) else { return 0 }
            index = found
        }
        let aes = key(index).advanced(by: 16).assumingMemoryBound(to: UInt8.self)
        let hmac = key(index).advanced(by: 48).assumingMemoryBound(to: UInt8.self)
        guard corral_ticket_mac_init(mac, hmac, 32) == 1 else { return -1 }
        let started = mode == 1 ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nil, aes, iv)
                                : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nil, aes, iv)
        guard started == 1 else { return -1 }
        return mode == 1 || index == 0 ? 1 : 2
    }
}
