#include "CorralGunicornPython.h"

// C23's #embed, as for corral_runtime.py: the script stays a Python file, and editing it rebuilds.
static const char source[] = {
#embed "corral_gunicorn.py"
    , 0
};

const char *corral_gunicorn_source(void) { return source; }
