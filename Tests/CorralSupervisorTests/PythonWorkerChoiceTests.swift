import Foundation
import Testing
@testable import CorralSupervisor

/// Which corral-python serves a venv, from what its python3 says of itself (no processes here).
struct PythonWorkerChoiceTests {
    /// A libpython that exists (the shared check looks for the file).
    static let libdir = FileManager.default.temporaryDirectory.path

    static func interpreter(_ version: String = "3.11.7 (main, May  9 2026)\\n[GCC 12.2.0]", minor: String = "3.11",
                            shared: Int = 1, freeThreaded: Int = 0, soname: String = ".") -> PythonWorkerChoice.Interpreter? {
        .init(record: "interpreter\t\(version)\t\(minor)\t\(shared)\t\(freeThreaded)\t\(libdir)\t\(soname)\t/opt/py/bin/python\(minor)")
    }

    @Test func readsTheInterpretersRecord() throws {
        let facts = try #require(Self.interpreter())
        #expect(facts.version == "3.11.7 (main, May  9 2026)\n[GCC 12.2.0]")
        #expect(facts.release == "3.11.7" && facts.minor == "3.11" && facts.shared && !facts.freeThreaded)
        #expect(facts.executable == "/opt/py/bin/python3.11")
        #expect(PythonWorkerChoice.Interpreter(record: "interpreter\t3.11.7") == nil)
        #expect(PythonWorkerChoice.Interpreter(record: "setting\ta\tb\tc\td\te\tf\tg") == nil)
    }

    /// The worker named for the X.Y, with the default's arguments, on the interpreter's own
    /// libpython: its LIBDIR first in LD_LIBRARY_PATH, before what corrald inherited.
    @Test func picksTheWorkerForTheMinorVersion() throws {
        let facts = try #require(Self.interpreter())
        let installed = [PythonWorkerChoice.Installed(path: "/usr/bin/corral-python3.13", minor: "3.13"),
                         PythonWorkerChoice.Installed(path: "/usr/bin/corral-python", minor: "3.11")]
        let choice = try PythonWorkerChoice.choose(for: facts, venv: "/srv/venv", defaultWorker: ["/usr/bin/corral-python", "--x"],
                                                   installed: installed, inheritedLibraryPath: "/opt/lib").get()
        #expect(choice.command == ["/usr/bin/corral-python", "--x"])
        #expect(choice.environment == ["LD_LIBRARY_PATH": "\(Self.libdir):/opt/lib", "CORRAL_PYTHON_LIBDIR": Self.libdir,
                                       "CORRAL_PYTHON_VERSION": facts.version])
        let bare = try PythonWorkerChoice.choose(for: facts, venv: "/srv/venv", defaultWorker: ["/usr/bin/corral-python"],
                                                 installed: installed, inheritedLibraryPath: nil).get()
        #expect(bare.environment["LD_LIBRARY_PATH"] == Self.libdir)
        let newer = try #require(Self.interpreter("3.13.5", minor: "3.13"))
        #expect(try PythonWorkerChoice.choose(for: newer, venv: "/srv/venv", defaultWorker: ["/usr/bin/corral-python"],
                                              installed: installed, inheritedLibraryPath: nil).get().command == ["/usr/bin/corral-python3.13"])
    }

    @Test(arguments: [(interpreter(minor: "3.14"), "no corral-python for Python 3.14 is installed (installed: /usr/bin/corral-python (Python 3.11))"),
                      (interpreter(shared: 0), "has no shared libpython (built without --enable-shared)"),
                      (interpreter(soname: "libpython3.11-missing.so"), "has no shared libpython"),
                      (interpreter(freeThreaded: 1), "a free-threaded build")])
    func refusesWithTheReason(facts: PythonWorkerChoice.Interpreter?, reason: String) throws {
        let facts = try #require(facts)
        let refused = PythonWorkerChoice.choose(for: facts, venv: "/srv/venv", defaultWorker: ["/usr/bin/corral-python"],
                                                installed: [.init(path: "/usr/bin/corral-python", minor: "3.11")], inheritedLibraryPath: nil)
        guard case .failure(let refusal) = refused else { Issue.record("\(refused)"); return }
        #expect(refusal.message.hasPrefix("the virtualenv /srv/venv was made with /opt/py/bin/python\(facts.minor) (Python \(facts.release))"))
        #expect(refusal.message.contains(reason), "\(refusal.message)")
    }
}
