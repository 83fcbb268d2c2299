import Foundation
import Testing

/// static_map: URL prefixes the engine serves from directories before the app sees the request,
/// with Django's admin (collectstatic, ManifestStaticFilesStorage) and a Flask app's static/.
@Suite(.serialized) struct StaticMapTests {
    /// collectstatic into a fresh directory, as a deploy does; hashed names with `manifest`.
    private func collectStatic(into directory: TemporaryDirectory, manifest: Bool) throws -> String {
        let root = directory.file("collected")
        let collect = shell("cd \(WSGIApps.directory) && DJANGO_SETTINGS_MODULE=django_site.settings DJANGO_STATIC_ROOT=\(root) "
                            + "DJANGO_MANIFEST=\(manifest ? 1 : 0) \(WSGIApps.virtualenv)/bin/python -m django collectstatic --noinput 2>&1")
        #expect(collect.status == 0, "\(collect.output)")
        return root
    }

    @Test func djangosAdminStaticFilesAreServedByTheEngine() throws {
        try WSGIApps.requireVirtualenv()
        let scratch = TemporaryDirectory()
        let root = try collectStatic(into: scratch, manifest: true)
        let worker = try WSGIApps.worker("django_site.wsgi:application", ["--static-map", "/static=\(root)", "--static-max-age", "60"],
                                         environment: ["DJANGO_STATIC_ROOT": root, "DJANGO_MANIFEST": "1"])
        // The admin's page (Django's) names the hashed file; the engine serves it, immutable.
        let login = try #require(try request(port: worker.port, "GET", "/admin/login/"))
        #expect(login.status == 200, "\(login.text)")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/staticfiles.json"))) as? [String: Any]
        let hashed = try #require((manifest?["paths"] as? [String: String])?["admin/css/base.css"])
        #expect(login.text.contains("/static/\(hashed)"), "the page links \(hashed)")
        let css = try #require(try request(port: worker.port, "GET", "/static/\(hashed)"))
        #expect(css.status == 200)
        #expect(css.body == Array(try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(hashed)"))), "the file's bytes")
        #expect(css.header("content-type") == "text/css; charset=utf-8")
        #expect(css.header("cache-control") == "public, max-age=31536000, immutable", "a content-hashed name never changes")

        // The unhashed name: static_max_age; validators, 304 and ranges as corral-worker's.
        let plain = try #require(try request(port: worker.port, "GET", "/static/admin/css/base.css"))
        #expect(plain.status == 200 && plain.header("cache-control") == "public, max-age=60")
        let etag = try #require(plain.header("etag"))
        #expect(try request(port: worker.port, "GET", "/static/admin/css/base.css", headers: ["If-None-Match: \(etag)"])?.status == 304)
        let range = try #require(try request(port: worker.port, "GET", "/static/admin/css/base.css", headers: ["Range: bytes=0-9"]))
        #expect(range.status == 206 && range.body == Array(plain.body.prefix(10)))
        #expect(try request(port: worker.port, "POST", "/static/admin/css/base.css")?.status == 405)

        // Nothing outside the directory; a path that only starts like the prefix is the app's.
        for path in ["/static/../django_site/settings.py", "/static/%2e%2e/django_site/settings.py", "/static/admin/css/none.css"] {
            #expect(try request(port: worker.port, "GET", path)?.status == 404, "\(path)")
        }
        let redirect = try #require(try request(port: worker.port, "GET", "/static"))
        #expect(redirect.status == 301 && redirect.header("location")?.hasSuffix("/static/") == true)
        let app = try #require(try request(port: worker.port, "GET", "/staticky"))
        #expect(app.status == 404 && app.text.contains("Not Found"), "Django's own 404: \(app.text)")

        #expect(!worker.log.contains("Traceback"), "\(worker.log)")
    }

    /// corrald's static_map (TOML), relative to chdir, serving a Flask app's static/ folder.
    @Test func aFlaskAppsStaticFolderThroughCorrald() throws {
        try WSGIApps.requireVirtualenv()
        let daemon = try CorraldProcess(config: """
            wsgi_app = "flask_app:app"
            chdir = "\(WSGIApps.directory)"
            virtualenv = "\(WSGIApps.virtualenv)"
            workers = 1
            static_map = { "/static" = "static" }
            accesslog = "-"
            """)
        #expect(daemon.waitUntilServing(workers: 1), "\(daemon.log)")
        let css = try #require(try request(port: daemon.port, "GET", "/static/style.css"))
        #expect(css.status == 200 && css.text == "body { color: #333; }\n")
        #expect(css.header("cache-control") == nil, "static_max_age 0: revalidated with the ETag")
        #expect(try request(port: daemon.port, "GET", "/static/style.3f2a9c1d8e7b.css")?.header("cache-control")
                == "public, max-age=31536000, immutable")
        #expect(try request(port: daemon.port, "GET", "/")?.text == "Hello, World!", "the rest is the app's")
        #expect(eventually { daemon.log.contains("\"GET /static/style.css HTTP/1.1\" 200") }, "access-logged: \(daemon.log)")

        let printed = shell("\(Binaries.path("corrald")) -c \(daemon.configPath) --print-config 2>&1").output
        #expect(printed.contains("static_map = { '/static' = 'static' }"), "\(printed)")
        let missing = shell("\(Binaries.path("corrald")) -c \(daemon.configPath) --static-map /media=media --check-config 2>&1")
        #expect(missing.status == 1)
        #expect(missing.output.contains("static_map: /media: \(WSGIApps.directory)/media: No such file or directory"), "\(missing.output)")
        let badPrefix = shell("\(Binaries.path("corrald")) -c \(daemon.configPath) --static-map static=static --check-config 2>&1")
        #expect(badPrefix.status == 1 && badPrefix.output.contains("a static_map prefix is a URL path such as \"/static\""), "\(badPrefix.output)")
    }
}
