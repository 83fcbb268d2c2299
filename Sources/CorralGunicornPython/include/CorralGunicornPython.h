#pragma once

/// corral_gunicorn.py as NUL-terminated source text: gunicorn's Python side (reading a gunicorn
/// config file, its server hooks), which corrald runs with the app's python3 (it links no
/// libpython) and corral-python imports for the workers' hooks.
const char *corral_gunicorn_source(void);
