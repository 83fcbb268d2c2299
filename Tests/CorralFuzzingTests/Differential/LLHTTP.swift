import CorralFuzzing
import Foundation

/// llhttp, node's HTTP/1.1 parser, reading streams through tests/differential/llhttp.js.
enum LLHTTP {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tests/differential/llhttp.js")

    /// llhttp's version, as node reports it.
    static func version() throws -> String {
        try run("node -p process.versions.llhttp", input: nil).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One transcript per stream, in order. `lenient`: with every lenient flag, as node's
    /// --insecure-http-parser (and any proxy that reads more loosely).
    static func transcripts(of streams: [[UInt8]], lenient: Bool = false) throws -> [RequestStreamTranscript] {
        let input = streams.map { RequestStreamTranscript.hex($0) }.joined(separator: "\n") + "\n"
        let output = try run("node \(script.path)\(lenient ? " lenient" : "")", input: input)
        let decoder = JSONDecoder()
        let lines = output.split(separator: "\n")
        guard lines.count == streams.count else {
            throw Unavailable(description: "llhttp.js answered \(lines.count) of \(streams.count) streams: \(output.prefix(500))")
        }
        return try lines.map { try decoder.decode(RequestStreamTranscript.self, from: Data($0.utf8)) }
    }

    private static func run(_ command: String, input: String?) throws -> String {
        let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("llhttp-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: inputFile) }
        try (input ?? "").write(to: inputFile, atomically: true, encoding: .utf8)
        guard let pipe = popen("\(command) < \(inputFile.path) 2>&1", "r") else { throw Unavailable(description: "popen failed") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, pipe)
            if n <= 0 { break }
            output += buffer[..<n]
        }
        let status = pclose(pipe)
        let text = String(decoding: output, as: UTF8.self)
        guard status == 0 else {
            throw Unavailable(description: "`\(command)` failed (status \(status >> 8)): \(text.prefix(500)); make test installs nodejs")
        }
        return text
    }
}
