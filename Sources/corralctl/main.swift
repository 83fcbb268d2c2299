import Glibc

// corralctl: see README ("corralctl"). With connection options only (or nothing), the prompt.
let arguments = Array(CommandLine.arguments.dropFirst())
let (connection, command) = ArgumentOrder.split(arguments)
if command.isEmpty {
    exit(InteractiveShell(connectionArguments: connection).run())
}
exit(Corralctl.execute(ArgumentOrder.verbFirst(arguments)))
