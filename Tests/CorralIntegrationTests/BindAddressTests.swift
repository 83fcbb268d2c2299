import Testing
import CorralSystemd

@Suite struct BindAddressTests {
    @Test(arguments: [
        ("127.0.0.1:8000", BindAddress.tcp(host: "127.0.0.1", port: 8000)),
        ("0.0.0.0:5000", .tcp(host: "0.0.0.0", port: 5000)),
        ("localhost", .tcp(host: "localhost", port: 8000)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("unix:/run/corral.sock", .unix(path: "/run/corral.sock")),
        ("fd://3", .fd(3)),
    ])
    func parsesGunicornForms(text: String, expected: BindAddress) throws {
        #expect(try BindAddress(parsing: text) == expected)
    }

    @Test(arguments: ["127.0.0.1:http", "127.0.0.1:70000", "[::1:80", "::1:80", "unix:", "fd://x"])
    func rejectsWithAReason(text: String) {
        #expect(throws: BindAddress.ParseError.self) { try BindAddress(parsing: text) }
    }
}
