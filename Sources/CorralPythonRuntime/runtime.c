#include "CorralPythonRuntime.h"

// C23's #embed: the .py file stays a Python file (read, linted and tested as Python), and the
// compiler's dependency list names it, so editing it rebuilds the worker.
static const char source[] = {
#embed "corral_runtime.py"
    , 0
};

const char *corral_runtime_source(void) { return source; }
