/// supervisorctl's habit, `corralctl -s unix:///run/corral/corral.sock status` or `corralctl -c
/// /etc/corral/corral.toml reload`: connection options written before the verb are moved after
/// it, where every verb takes them.
enum ArgumentOrder {
    private static let options = ["-s", "--socket", "-c", "--config"]
    private static let flags = ["--json"]

    /// The connection options at the front, and the verb with its own arguments after them.
    static func split(_ arguments: [String]) -> (connection: [String], command: ArraySlice<String>) {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if options.contains(word), index + 1 < arguments.count {
                leading += [word, arguments[index + 1]]
                index += 2
            } else if flags.contains(word) || options.contains(where: { $0.hasPrefix("--") && word.hasPrefix($0 + "=") }) {
                leading.append(word)
                index += 1
            } else {
                break
            }
        }
        return (leading, arguments[index...])
    }

    static func verbFirst(_ arguments: [String]) -> [String] {
        let (leading, command) = split(arguments)
        guard let verb = command.first else { return arguments }
        return [verb] + leading + numbersLast(command.dropFirst())
    }

    /// `workers -1`: a negative number is a value, not an option, so it goes after `--`.
    static func numbersLast(_ words: ArraySlice<String>) -> [String] {
        func isNegativeNumber(_ word: String) -> Bool { word.count > 1 && word.hasPrefix("-") && word.dropFirst().allSatisfy(\.isNumber) }
        let numbers = words.filter(isNegativeNumber)
        guard !numbers.isEmpty, !words.contains("--") else { return Array(words) }
        return words.filter { !isNegativeNumber($0) } + ["--"] + numbers
    }
}
