/// Checks UTF-8 as it arrives, in pieces split anywhere (RFC 3629: no overlong forms, no
/// surrogates, nothing past U+10FFFF), so that a text message is refused at its first bad byte
/// (RFC 6455 §8.1: fail fast) without holding the message.
public struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still owed by the sequence in progress.
    private var owed: UInt8 = 0
    /// The range the next continuation byte must be in (narrower than 80...BF right after E0,
    /// ED, F0 and F4).
    private var low: UInt8 = 0x80
    private var high: UInt8 = 0xBF

    public init() {}

    /// Whether everything so far is valid and no sequence is left open (a message may end here).
    public var isComplete: Bool { owed == 0 }

    /// Checks `bytes`, continuing the sequence the previous piece left open; false at the first
    /// byte that cannot be UTF-8.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var i = 0
        while i < count {
            if owed == 0 {
                // ASCII eight bytes at a time: most text is ASCII.
                while i + 8 <= count && bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                }
                guard i < count else { break }
                let byte = bytes[i]
                i += 1
                switch byte {
                case 0x00...0x7F: continue
                case 0xC2...0xDF: (owed, low, high) = (1, 0x80, 0xBF)
                case 0xE0: (owed, low, high) = (2, 0xA0, 0xBF)        // no overlong 3-byte forms
                case 0xE1...0xEC, 0xEE...0xEF: (owed, low, high) = (2, 0x80, 0xBF)
                case 0xED: (owed, low, high) = (2, 0x80, 0x9F)        // no surrogates
                case 0xF0: (owed, low, high) = (3, 0x90, 0xBF)        // no overlong 4-byte forms
                case 0xF1...0xF3: (owed, low, high) = (3, 0x80, 0xBF)
                case 0xF4: (owed, low, high) = (3, 0x80, 0x8F)        // nothing past U+10FFFF
                default: return false                                 // 80...C1, F5...FF
                }
            } else {
                let byte = bytes[i]
                i += 1
                guard byte >= low && byte <= high else { return false }
                owed -= 1
                (low, high) = (0x80, 0xBF)
            }
        }
        return true
    }
}
