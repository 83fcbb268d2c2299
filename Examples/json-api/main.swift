import CorralWorker

// An example application on corral's handler API: a small in-memory JSON notes service.
//   GET  /notes        → the list as JSON
//   POST /notes        → body is the note's text; answers 201 with its id
//   GET  /notes/ID     → one note, 404 if absent
//   GET  /slow?ms=N    → answers after N ms without blocking the loop (EventLoop.sleep)
//   GET  /boom         → the handler throws: the engine answers 500 and logs the error
// Everything runs on the worker's one loop thread, so the store needs no lock.

final class NoteStore: @unchecked Sendable {
    private(set) var notes: [String] = []

    func add(_ text: String) -> Int {
        notes.append(text)
        return notes.count - 1
    }
}

enum ExampleError: Error { case boom }

let store = NoteStore()
let json: HTTPFields = ["Content-Type": "application/json"]

func note(_ id: Int) -> String { "{\"id\":\(id),\"text\":\(JSONText.quoted(store.notes[id]))}" }

let worker = Worker.fromCommandLine(name: "corral-example-json") { request in
    let path = request.path
    switch (request.method, path) {
    case (.get, "/notes"):
        let items = store.notes.indices.map(note).joined(separator: ",")
        return Response(headers: json, body: .string("[\(items)]"))
    case (.post, "/notes"):
        let text = String(decoding: try await request.body.collect(upTo: 64 * 1024), as: UTF8.self)
        let id = store.add(text)
        return Response(status: 201, headers: json, body: .string(note(id)))
    case (.get, "/slow"):
        let ms = Int(request.query.split(separator: "=").last ?? "") ?? 100
        await request.loop.sleep(for: .milliseconds(min(ms, 60_000)))
        return Response(headers: json, body: .string("{\"slept_ms\":\(ms)}"))
    case (.get, "/boom"):
        throw ExampleError.boom
    case (.get, _) where path.hasPrefix("/notes/"):
        guard let id = Int(path.dropFirst(7)), store.notes.indices.contains(id) else {
            return Response(status: 404, headers: json, body: .string("{\"error\":\"no such note\"}"))
        }
        return Response(headers: json, body: .string(note(id)))
    default:
        return Response(status: 404, headers: json, body: .string("{\"error\":\"not found\"}"))
    }
}
worker.run()
