#pragma once

/// gunicorn_config_reader.py as NUL-terminated source text: the Python corrald runs with the app's
/// python3 to read a gunicorn config file (corrald itself links no libpython).
const char *corral_gunicorn_config_reader_source(void);
