#pragma once

/// corral_runtime.py, the Python half of the WSGI bridge, as NUL-terminated source text: built
/// into the worker so that the Python it runs is always the one it was built with.
const char *corral_runtime_source(void);

/// corral_asgi.py, the ASGI half (worker_class asgi), likewise.
const char *corral_asgi_source(void);
