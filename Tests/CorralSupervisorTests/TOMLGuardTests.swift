import CCorral
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

    /// A child stuck on a lock another thread held at the fork dies at its deadline, even when
    /// the forking thread blocks SIGALRM (a test runner's threads do; a parent waited forever).
    @Test func theChildsDeadlineHoldsWithSIGALRMBlocked() {
        var blocked = sigset_t(), saved = sigset_t()
        sigemptyset(&blocked)
        sigaddset(&blocked, SIGALRM)
        pthread_sigmask(SIG_BLOCK, &blocked, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        let pid = fork()
        if pid == 0 {
            corral_become_disposable_child(1)
            while true { pause() }   // as stuck as a deadlocked parse
        }
        var status: Int32 = 0
        var reaped = false
        for _ in 0..<100 where !reaped {   // 5 s at most: a child that outlives its deadline fails the test
            reaped = waitpid(pid, &status, WNOHANG) == pid
            if !reaped { usleep(50_000) }
        }
        if !reaped {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        #expect(reaped && status & 0x7f == SIGALRM, "the child outlived its 1 s deadline")
    }

    @Test func validAndInvalidTOMLAlikeLetTheChildReturn() {
        #expect(TOMLSandbox.crashSignal(parsing: "workers = 2\n") == nil)
        #expect(TOMLSandbox.crashSignal(parsing: "workers = \n") == nil, "a syntax error is reported, not a crash")
    }
}
