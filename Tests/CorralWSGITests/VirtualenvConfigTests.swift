import CorralWSGI
import Testing

/// pyvenv.cfg says which interpreter made a venv; one that is not the embedded Python is refused.
struct VirtualenvConfigTests {
    @Test func venvsAndVirtualenvsFilesAreRead() {
        let venv = VirtualenvConfig(parsing: """
            home = /root/.pyenv/versions/3.11.7/bin
            include-system-site-packages = false
            version = 3.11.7
            executable = /root/.pyenv/versions/3.11.7/bin/python3.11
            command = /root/.pyenv/versions/3.11.7/bin/python3 -m venv /srv/app/venv

            """)
        #expect(venv == VirtualenvConfig(version: "3.11.7", madeBy: "/root/.pyenv/versions/3.11.7/bin/python3.11"))
        let virtualenv = VirtualenvConfig(parsing: "home = /usr/bin\r\nimplementation = CPython\r\nversion_info = 3.12.1.final.0\r\nvirtualenv = 20.25.0\r\n")
        #expect(virtualenv == VirtualenvConfig(version: "3.12.1", madeBy: "/usr/bin/python3"))
        #expect(VirtualenvConfig(parsing: "") == VirtualenvConfig(version: nil, madeBy: nil))
    }

    @Test func onlyTheEmbeddedInterpretersVenvServes() {
        let same = VirtualenvConfig(version: "3.11.2", madeBy: "/usr/bin/python3.11")
        #expect(same.mismatch(embedded: "3.11.2", venv: "/srv/venv", recreate: "/usr/bin/python3.11") == nil)
        #expect(VirtualenvConfig(version: nil, madeBy: nil).mismatch(embedded: "3.11.2", venv: "/srv/venv", recreate: "/usr/bin/python3.11") == nil,
                "a pyvenv.cfg without a version is not judged")
        let pyenv = VirtualenvConfig(version: "3.11.7", madeBy: "/root/.pyenv/versions/3.11.7/bin/python3.11")
        let problem = pyenv.mismatch(embedded: "3.11.2", venv: "/srv/venv", recreate: "/usr/bin/python3.11")
        #expect(problem?.contains("the virtualenv /srv/venv was made by /root/.pyenv/versions/3.11.7/bin/python3.11 (Python 3.11.7, says its pyvenv.cfg), but corral-python embeds Python 3.11.2") == true)
        #expect(problem?.contains("/usr/bin/python3.11 -m venv --clear /srv/venv") == true)
        #expect(problem?.contains("make python-worker PYTHON=/root/.pyenv/versions/3.11.7/bin/python3.11 (in corral's source tree; it makes corral-python3.11)") == true,
                "\(problem ?? "")")
    }
}
