/// gunicorn's `worker_class` names, and how corral-python runs the application for each. corral has
/// three ways: WSGI on a pool of Python threads (gunicorn's sync and gthread) or one greenlet per
/// request on gevent's hub (gunicorn's gevent, eventlet and meinheld workers), and ASGI, one task
/// per request on an asyncio loop (gunicorn's asgi, uvicorn's workers).
public enum WorkerClass: String, Sendable, CaseIterable {
    case threads
    case gevent
    case asgi

    /// Every name gunicorn users write, with the mode it maps to.
    public static let names: [(name: String, mode: WorkerClass)] = [
        ("sync", .threads), ("gthread", .threads),
        ("gunicorn.workers.sync.SyncWorker", .threads), ("gunicorn.workers.gthread.ThreadWorker", .threads),
        ("gevent", .gevent), ("gevent_wsgi", .gevent), ("gevent_pywsgi", .gevent),
        ("gunicorn.workers.ggevent.GeventWorker", .gevent),
        ("eventlet", .gevent), ("gunicorn.workers.geventlet.EventletWorker", .gevent),
        ("egg:meinheld#gunicorn_worker", .gevent), ("meinheld.gmeinheld.MeinheldWorker", .gevent),
        ("asgi", .asgi), ("gunicorn.workers.gasgi.ASGIWorker", .asgi),
        ("uvicorn.workers.UvicornWorker", .asgi), ("uvicorn.workers.UvicornH11Worker", .asgi),
        ("uvicorn_worker.UvicornWorker", .asgi), ("uvicorn_worker.UvicornH11Worker", .asgi),
    ]

    /// The interface the application must have under this class.
    public var interface: String { self == .asgi ? "ASGI" : "WSGI" }

    /// The mode for a gunicorn name; nil for a name corral does not know.
    public init?(gunicornName: String) {
        guard let entry = Self.names.first(where: { $0.name == gunicornName }) else { return nil }
        self = entry.mode
    }

    /// What the worker's log says the name means.
    public static func explanation(of name: String, threads: Int) -> String {
        switch WorkerClass(gunicornName: name) {
        case .threads: return "worker_class \(name): \(threads) Python thread(s), the GIL released while the app blocks"
        case .gevent where name == "gevent":
            return "worker_class gevent: gevent monkey-patches, one greenlet per request on gevent's hub"
        case .gevent:
            return "worker_class \(name): served as gevent (monkey-patched, one greenlet per request on gevent's hub)"
        case .asgi where name == "asgi":
            return "worker_class asgi: an ASGI app, one task per request on an asyncio loop"
        case .asgi:
            return "worker_class \(name): served as asgi (one task per request on an asyncio loop; corral's HTTP engine, not uvicorn's)"
        case nil: return "worker_class \(name) is unknown"
        }
    }

    /// The error for an unknown name, listing the known ones.
    public static func unknown(_ name: String) -> String {
        "unknown worker_class \"\(name)\"; expected one of: " + names.map(\.name).joined(separator: ", ")
    }
}
