import Foundation

/// Runs a shell command line and returns what it printed (stdout and stderr) and its exit status.
/// popen, not Foundation's Process: its reaper can leave a short-lived child unwaited while
/// other children run.
@discardableResult
func shell(_ command: String) -> (output: String, status: Int32) {
    guard let pipe = popen("(\(command)) 2>&1", "r") else { return ("popen failed", -1) }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, pipe)
        if n <= 0 { break }
        output += buffer[..<n]
    }
    let status = pclose(pipe)
    return (String(decoding: output, as: UTF8.self), (status >> 8) & 0xff)
}

/// A word for a shell command line, quoted.
func shellQuoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
