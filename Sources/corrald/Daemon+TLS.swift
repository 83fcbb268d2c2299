import CorralSupervisor
import CorralSystemd
import CorralTLS
import Glibc

/// TLS's part in corrald: the session-ticket keys every worker shares (made when a configuration
/// first has a certfile, rotated every `ssl_ticket_key_rotation`, carried across reloads and, by
/// the upgrade state, across upgrades in place), passed to each worker after its sockets.
extension Daemon {
    /// The keys for a configuration's workers; nil without TLS. Made once, then kept.
    func ticketKeys(for configuration: Configuration) throws -> TicketKeys? {
        guard configuration.certfile != nil else { return nil }
        if let sharedTicketKeys { return sharedTicketKeys }
        let keys: TicketKeys
        if let handed = handover?.endpoints.first(where: { $0.role == .ticketKeys }) {
            keys = try TicketKeys(continuing: handed.fd)
            logger.info("upgrade: the session-ticket keys carried over (\(keys.snapshot().count) kept)")
        } else {
            keys = try TicketKeys()
        }
        sharedTicketKeys = keys
        rotateTicketKeys()
        return keys
    }

    /// A new ticket key every `ssl_ticket_key_rotation` of the serving configuration.
    private func rotateTicketKeys() {
        loop.spawn { [self] in
            while let keys = sharedTicketKeys {
                await loop.sleep(for: .milliseconds(Int64(configuration.sslTicketKeyRotation * 1000)))
                keys.rotate()
                logger.debug("session-ticket keys rotated: a new one encrypts, \(TicketKeys.kept - 1) older ones still decrypt")
            }
        }
    }

    /// The descriptors a worker gets after its sockets (and after `preceding` others), and the
    /// environment that names them.
    func workerExtras(_ plan: Plan, preceding: Int = 0) -> (fds: [Int32], environment: [String: String]) {
        guard let keys = plan.ticketKeys else { return ([], [:]) }
        return ([keys.fd], ["CORRAL_TICKET_KEYS_FD": String(3 + plan.sockets.count + preceding)])
    }
}
