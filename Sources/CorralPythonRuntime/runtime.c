#include "CorralPythonRuntime.h"

// C23's #embed: the .py files stay Python files (read, linted and tested as Python), and the
// compiler's dependency list names them, so editing one rebuilds the worker.
static const char runtime_source[] = {
#embed "corral_runtime.py"
    , 0
};

static const char wsgi_source[] = {
#embed "corral_wsgi.py"
    , 0
};

static const char asgi_source[] = {
#embed "corral_asgi.py"
    , 0
};

static const char websocket_source[] = {
#embed "corral_websocket.py"
    , 0
};

const char *corral_runtime_source(void) { return runtime_source; }
const char *corral_wsgi_source(void) { return wsgi_source; }
const char *corral_asgi_source(void) { return asgi_source; }
const char *corral_websocket_source(void) { return websocket_source; }
