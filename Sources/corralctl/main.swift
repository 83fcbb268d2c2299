import ArgumentParser
import CorralControl
import CorralSupervisor
import Glibc

// corralctl: see README ("corralctl").
Corralctl.main(ArgumentOrder.verbFirst(Array(CommandLine.arguments.dropFirst())))
