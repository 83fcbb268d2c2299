#include "CorralGunicornPython.h"

// C23's #embed, as for corral_runtime.py: the script stays a Python file, and editing it rebuilds.
static const char source[] = {
#embed "gunicorn_config_reader.py"
    , 0
};

const char *corral_gunicorn_config_reader_source(void) { return source; }
