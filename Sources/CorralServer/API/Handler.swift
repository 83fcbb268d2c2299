/// The whole seam between the engine and an application: one async function per request.
/// It runs as a coroutine on the worker's loop thread; when it awaits (the body, a slow client,
/// `EventLoop.sleep`, its own fds) the loop serves other connections meanwhile. A handler that
/// throws produces a 500 and an error-log line; the worker carries on.
public typealias Handler = @Sendable (Request) async throws -> Response
