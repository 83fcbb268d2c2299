import CTLS

/// A TLS setting that cannot be applied: which file, what OpenSSL said, what to do.
public struct TLSError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }

    /// `context` followed by what OpenSSL's error queue says (emptied here), if anything.
    static func fromOpenSSL(_ context: String) -> TLSError {
        let reasons = openSSLReasons()
        return TLSError(reasons.isEmpty ? context : "\(context) (OpenSSL: \(reasons))")
    }

    /// The reasons in this thread's OpenSSL error queue, which is left empty.
    static func openSSLReasons() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let text = ERR_reason_error_string(code) {
                let reason = String(cString: text)
                if !reasons.contains(reason) { reasons.append(reason) }
            }
        }
        return reasons.joined(separator: "; ")
    }
}
