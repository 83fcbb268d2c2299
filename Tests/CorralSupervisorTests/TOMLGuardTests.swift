import Glibc
@testable import CorralSupervisor
import Testing

@Suite struct TOMLGuardTests {
    @Test func refusesWhatTomlPlusPlusAbortsOnWithItsLine() {
        #expect(TOMLGuard.lineToRefuse(in: "workers = 2\nwhen = 1979-05-27T:32\n") == 2)
        #expect(TOMLGuard.lineToRefuse(in: "a = 1\n\n[|able]\n") == 3)
        #expect(TOMLGuard.lineToRefuse(in: "  [[ \u{FF}x]]\n") == 1)
        #expect(TOMLGuard.lineToRefuse(in: "s = \"\"\"two\nlines\"\"\"\nt = 'x\\\n[|bad]\n") == 4,
                "lines inside multi-line strings are counted; a literal string has no escapes")
    }

    @Test func letsValidTOMLThrough() {
        for text in ["[table]\nx = 1\n[[array]]\n[\"quoted key\"]\n['literal']\n[ spaced ]\n",
                     "access_log_format = '''\n[%(t)s] %(r)s\n'''\n",
                     "bind = [\n  \"127.0.0.1:8000\",\n]\nnested = [\n[1, 2],\n[]\n]\ninline = { a = [ { b = 1 } ] }\n",
                     "note = \"1979-05-27T:32 in a string\" # and 1979-05-27T:32 in a comment\n",
                     "when = 1979-05-27T07:32:00Z\nday = 1979-05-27\nlocal = 1979-05-27 07:32:00\n"] {
            #expect(TOMLGuard.lineToRefuse(in: text) == nil, "\(text)")
        }
    }
}

/// What TOMLGuard does not list, a parse in a child process catches: the parser dies there.
@Suite struct TOMLSandboxTests {
    @Test func aParserThatDiesInTheChildIsSeenWithItsSignalAndLine() {
        let text = "workers = 2\nbind = [\"127.0.0.1:8000\"]\nwhen = 1979-05-27T:32\ntimeout = 5\n"
        #expect(TOMLSandbox.crashSignal(parsing: text) == SIGABRT)
        #expect(TOMLSandbox.firstCrashingLine(in: text) == 3)
    }

    @Test func validAndInvalidTOMLAlikeLetTheChildReturn() {
        #expect(TOMLSandbox.crashSignal(parsing: "workers = 2\n") == nil)
        #expect(TOMLSandbox.crashSignal(parsing: "workers = \n") == nil, "a syntax error is reported, not a crash")
    }
}
