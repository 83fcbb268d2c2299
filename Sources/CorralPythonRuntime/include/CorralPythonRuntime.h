#pragma once

/// corral_runtime.py, the Python half of the WSGI bridge, as NUL-terminated source text: built
/// into the worker so that the Python it runs is always the one it was built with.
const char *corral_runtime_source(void);

/// corral_wsgi.py and corral_asgi.py, the WSGI and ASGI halves, and corral_websocket.py (ASGI's
/// WebSocket scopes), likewise.
const char *corral_wsgi_source(void);
const char *corral_asgi_source(void);
const char *corral_websocket_source(void);
