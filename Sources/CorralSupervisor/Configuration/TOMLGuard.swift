/// Input the bundled TOML parser (toml++ 3, inside TOMLKit 0.6) aborts on instead of reporting,
/// found by fuzzing (Tests/Fuzz/toml-configuration/crash-*), in release builds too: a bare
/// date-time whose `T` is not followed by a digit (`1979-05-27T:32`), and a table header whose
/// first character cannot start a key (`[|x]`). Such a file is refused here first, with its
/// line, so a typo in the config is an error and never kills corrald (a reload reads the file in
/// corrald's own process).
enum TOMLGuard {
    /// The line (from 1) of the first value the parser would abort on, if any. Strings and
    /// comments are skipped: only bare values reach the date-time parser.
    static func lineToRefuse(in text: String) -> Int? {
        datetimeLine(in: text) ?? tableHeaderLine(in: text)
    }

    /// `[` or `[[` opening a line, then (after blanks) neither a bare-key character nor a quote.
    private static func tableHeaderLine(in text: String) -> Int? {
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            guard rest.first == "[" else { continue }
            rest = rest.dropFirst()
            if rest.first == "[" { rest = rest.dropFirst() }
            rest = rest.drop { $0 == " " || $0 == "\t" }
            guard let first = rest.unicodeScalars.first else { return index + 1 }
            let startsKey = first.isASCII && (first.properties.isAlphabetic || ("0"..."9").contains(first) || first == "_" || first == "-")
            if !startsKey && first != "\"" && first != "'" { return index + 1 }
        }
        return nil
    }

    private static func datetimeLine(in text: String) -> Int? {
        let bytes = Array(text.utf8)
        var line = 1
        var i = 0
        func at(_ k: Int) -> UInt8 { k < bytes.count ? bytes[k] : 0 }
        func isDigit(_ k: Int) -> Bool { at(k) >= UInt8(ascii: "0") && at(k) <= UInt8(ascii: "9") }
        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\n"):
                line += 1
                i += 1
            case UInt8(ascii: "#"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                let triple = at(i + 1) == c && at(i + 2) == c
                i += triple ? 3 : 1
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: "\n") {
                        line += 1
                        if !triple { break }   // an unterminated string: the parser reports it
                    }
                    if c == UInt8(ascii: "\"") && bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if bytes[i] == c && (!triple || (at(i + 1) == c && at(i + 2) == c)) {
                        i += triple ? 3 : 1
                        break
                    }
                    i += 1
                }
            default:
                // YYYY-MM-DD then T or t, then not a digit.
                if isDigit(i) && isDigit(i + 1) && isDigit(i + 2) && isDigit(i + 3) && at(i + 4) == UInt8(ascii: "-")
                    && isDigit(i + 5) && isDigit(i + 6) && at(i + 7) == UInt8(ascii: "-") && isDigit(i + 8) && isDigit(i + 9)
                    && (at(i + 10) | 0x20) == UInt8(ascii: "t") && i + 11 < bytes.count && !isDigit(i + 11) {
                    return line
                }
                i += 1
            }
        }
        return nil
    }
}
