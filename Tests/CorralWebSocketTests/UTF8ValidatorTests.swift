import Testing
@testable import CorralWebSocket

@Suite struct UTF8ValidatorTests {
    private func valid(_ bytes: [UInt8], split: Int = .max) -> Bool {
        var validator = UTF8Validator()
        var position = 0
        while position < bytes.count {
            let end = Swift.min(bytes.count, position + split)
            guard bytes[position..<end].withUnsafeBytes({ validator.validate($0) }) else { return false }
            position = end
        }
        return validator.isComplete
    }

    @Test func validTextInEverySplit() {
        let text = Array("ASCII first, then κόσμε, 日本語, 𝄞 and 🎉, then ASCII again: long enough for the fast path".utf8)
        for split in 1...text.count { #expect(valid(text, split: split), "split \(split)") }
        #expect(valid([0xF4, 0x8F, 0xBF, 0xBF]))   // U+10FFFF
        #expect(valid([0xEF, 0xBF, 0xBF]))         // U+FFFF
        #expect(valid([]))
    }

    @Test func whatIsNotUTF8() {
        let invalid: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF],        // stray continuation, overlong 2-byte
            [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF],            // overlong 3-byte
            [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],            // surrogates
            [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], // past U+10FFFF
            [0xCE], [0xE2, 0x82], [0xF0, 0x9F, 0x8E],          // cut short
            [0x41, 0xCE, 0x41],                                // a lead byte without its continuation
        ]
        for bytes in invalid {
            for split in 1...bytes.count { #expect(!valid(bytes, split: split), "\(bytes) split \(split)") }
        }
    }

    @Test func agreesWithTheStandardLibraryOnRandomBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let count = Int.random(in: 0...12, using: &generator)
            // Mostly bytes near the interesting boundaries.
            let pool: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                                 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
            let bytes = (0..<count).map { _ in pool.randomElement(using: &generator)! }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(valid(bytes, split: Int.random(in: 1...4, using: &generator)) == expected, "\(bytes)")
        }
    }
}
