import CorralFuzzing
import Foundation
import Testing

/// Every input of the committed corpus (Tests/Fuzz/TARGET/: the seeds, and each crash the
/// fuzzers ever found, kept as a regression) keeps its target's property in a plain build.
@Suite struct CorpusReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        let directory = corpus.appendingPathComponent(target.rawValue)
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        return (enumerator?.allObjects as? [URL] ?? []).filter { !$0.hasDirectoryPath }
    }

    @Test(arguments: FuzzTarget.allCases)
    func theCorpusKeepsTheProperty(_ target: FuzzTarget) throws {
        let inputs = Self.inputs(target)
        #expect(inputs.count >= 3, "a seed corpus for \(target.rawValue) under \(Self.corpus.path)")
        for input in inputs {
            let bytes = try Data(contentsOf: input)
            bytes.withUnsafeBytes { target.run($0) }
        }
    }
}
