/// The status codes of a close frame (RFC 6455 §7.4) that corral sends or checks.
public enum WebSocketCloseCode: UInt16, Sendable {
    case normal = 1000
    case goingAway = 1001
    case protocolError = 1002
    case unsupportedData = 1003
    /// Reported to the app when the client's close frame had no code; never sent.
    case noStatus = 1005
    /// Reported to the app when the connection ended without a close frame; never sent.
    case abnormal = 1006
    case invalidPayload = 1007
    case policyViolation = 1008
    case messageTooBig = 1009
    case internalError = 1011
    case serviceRestart = 1012

    /// Whether a peer may send `code` in a close frame: the defined codes but 1004-1006 and
    /// 1015 (reserved for reports), and the registered and private ranges 3000-4999.
    public static func isValidOnTheWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014: true
        case 3000...4999: true
        default: false
        }
    }
}
