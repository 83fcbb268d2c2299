import CorralHTTP

/// Input the bundled TOML parser (toml++ 3, inside TOMLKit 0.6) aborts on instead of reporting,
/// found by fuzzing (Tests/Fuzz/toml-configuration/crash-*), in release builds too: a bare
/// date-time whose `T` is not followed by a digit (`1979-05-27T:32`), and a table header whose
/// first character cannot start a key (`[|x]`). Such a file is refused here first, with its
/// line and what was expected; TOMLSandbox refuses any other input the parser dies on.
enum TOMLGuard {
    /// The line (from 1) of the first construct the parser would abort on, if any. Strings and
    /// comments are skipped, and a table header is only looked for where one can be: at the start
    /// of a line, outside any array or inline table.
    static func lineToRefuse(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        var line = 1
        var depth = 0            // open [ and { of values
        var lineStart = true     // nothing but blanks since the last newline
        var i = 0
        func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }
        func isDigit(_ k: Int) -> Bool { k < bytes.count && HTTPGrammar.isDigit(bytes[k]) }
        func startsKey(_ c: UInt8) -> Bool {
            HTTPGrammar.isAlpha(c) || HTTPGrammar.isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
                || c == UInt8(ascii: "\"") || c == UInt8(ascii: "'")
        }
        while i < bytes.count {
            let c = bytes[i]
            let wasLineStart = lineStart
            lineStart = false
            switch c {
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = true
                i += 1
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                lineStart = wasLineStart
                i += 1
            case UInt8(ascii: "#"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                i = endOfString(bytes, from: i, line: &line)
            case UInt8(ascii: "[") where wasLineStart && depth == 0:
                // A table header `[key]` or `[[key]]`: its first character must start a key.
                var k = i + 1
                if at(k) == UInt8(ascii: "[") { k += 1 }
                while at(k) == UInt8(ascii: " ") || at(k) == UInt8(ascii: "\t") { k += 1 }
                if k >= bytes.count || !startsKey(bytes[k]) { return line }
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") && bytes[i] != UInt8(ascii: "#") { i += 1 }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                i += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth = max(0, depth - 1)
                i += 1
            default:
                // A bare date-time: YYYY-MM-DD, then T or t, then not a digit.
                if isDigit(i) && isDigit(i + 1) && isDigit(i + 2) && isDigit(i + 3) && at(i + 4) == UInt8(ascii: "-")
                    && isDigit(i + 5) && isDigit(i + 6) && at(i + 7) == UInt8(ascii: "-") && isDigit(i + 8) && isDigit(i + 9)
                    && (at(i + 10) | 0x20) == UInt8(ascii: "t") && !isDigit(i + 11) {
                    return line
                }
                i += 1
            }
        }
        return nil
    }

    /// Past the string that opens at `start` (basic or literal, single- or multi-line), counting
    /// its newlines; an unterminated single-line string ends at its newline, left to the parser.
    private static func endOfString(_ bytes: [UInt8], from start: Int, line: inout Int) -> Int {
        let quote = bytes[start]
        func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }
        let triple = at(start + 1) == quote && at(start + 2) == quote
        var i = start + (triple ? 3 : 1)
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\n") {
                if !triple { return i }
                line += 1
            } else if c == UInt8(ascii: "\\") && quote == UInt8(ascii: "\"") {
                if at(i + 1) == UInt8(ascii: "\n") { line += 1 }
                i += 2
                continue
            } else if c == quote && (!triple || (at(i + 1) == quote && at(i + 2) == quote)) {
                return i + (triple ? 3 : 1)
            }
            i += 1
        }
        return i
    }
}
