import CorralHTTP
import Testing

extension FilesTests {
    /// static_map's pure parts: the prefix a request path falls under, and Cache-Control by name.
    @Suite struct StaticMountTests {
        private func rest(_ mount: StaticMount, _ path: String) -> Int? {
            Array(path.utf8).withUnsafeBytes { mount.restStart(in: $0) }
        }

        @Test func aPrefixMatchesWholeSegmentsOnly() throws {
            let mount = try StaticMount(parsing: "/static/=/srv/app/static")
            #expect(mount.prefix == "/static" && mount.directory == "/srv/app/static", "a trailing slash is dropped")
            #expect(rest(mount, "/static/css/app.css") == 7)
            #expect(rest(mount, "/static") == 7, "the mount's own URL (redirected to its index)")
            #expect(rest(mount, "/staticky/app.css") == nil)
            #expect(rest(mount, "/stat") == nil)
            #expect(rest(mount, "/other/static/app.css") == nil)
        }

        @Test func badEntriesSayWhatIsExpected() {
            #expect(throws: StaticMountError.self) { try StaticMount(parsing: "/static") }
            #expect(throws: StaticMountError.self) { try StaticMount(parsing: "static=dir") }
            #expect(throws: StaticMountError.self) { try StaticMount(parsing: "/=dir") }
            #expect(throws: StaticMountError.self) { try StaticMount(parsing: "/st%61tic=dir") }
            #expect(throws: StaticMountError.self) { try StaticMount(parsing: "/static=") }
        }

        @Test func contentHashedNamesAreImmutable() {
            for hashed in ["admin/css/base.96c479cedf7a.css", "gen/packed.3d9f2a1c.js", "main.0123456789abcdef0123.js", "a.b.5af66c1b1797.min.css"] {
                #expect(StaticMount.isHashedName(Array(hashed.utf8)), "\(hashed)")
            }
            for plain in ["admin/css/base.css", "jquery.min.js", "deadbeef.css", "app.deadbeef.css", "app.1234567.css",
                          "f0e1d2c3b4a5.css", "css.96c479cedf7a/base.css", "app.96C479CEDF7A.css"] {
                #expect(!StaticMount.isHashedName(Array(plain.utf8)), "\(plain)")
            }
            #expect(StaticMount.cacheControl(forPath: Array("base.96c479cedf7a.css".utf8), maxAge: 0) == "public, max-age=31536000, immutable")
            #expect(StaticMount.cacheControl(forPath: Array("base.css".utf8), maxAge: 60) == "public, max-age=60")
            #expect(StaticMount.cacheControl(forPath: Array("base.css".utf8), maxAge: 0) == nil)
        }
    }
}
