// libpython (python3-embed) for corral-python, plus what Swift cannot import from Python.h:
// the reference-counting macros, the variadic/macro-built calls and the PyConfig start-up.
// The C library's headers come first, before pyconfig.h's feature macros (_XOPEN_SOURCE…), so
// that their types agree with Swift's Glibc module (fd_set's fields differ otherwise).
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static inline void corral_py_incref(PyObject *object) { Py_INCREF(object); }
static inline void corral_py_decref(PyObject *object) { Py_DECREF(object); }
static inline void corral_py_xdecref(PyObject *object) { Py_XDECREF(object); }
static inline PyObject *corral_py_none(void) { Py_RETURN_NONE; }
static inline PyObject *corral_py_bool(int value) { if (value) Py_RETURN_TRUE; Py_RETURN_FALSE; }
static inline PyObject *corral_py_value_error(void) { return PyExc_ValueError; }
static inline int corral_py_is_ascii(PyObject *text) { return PyUnicode_IS_ASCII(text); }
static inline int corral_py_is_bytes(PyObject *object) { return PyBytes_Check(object); }
static inline PyObject *corral_py_none_borrowed(void) { return Py_None; }
static inline int corral_py_is_list(PyObject *object) { return PyList_Check(object); }
static inline int corral_py_is_tuple(PyObject *object) { return PyTuple_Check(object); }
static inline int corral_py_is_str(PyObject *object) { return PyUnicode_CheckExact(object); }
static inline int corral_py_is_int(PyObject *object) { return PyLong_Check(object); }
static inline PyObject *corral_py_type_error(void) { return PyExc_TypeError; }
/// What PySequence_Fast made (a list or a tuple): its length and items.
static inline Py_ssize_t corral_py_fast_size(PyObject *sequence) { return PySequence_Fast_GET_SIZE(sequence); }
static inline PyObject **corral_py_fast_items(PyObject *sequence) { return PySequence_Fast_ITEMS(sequence); }

/// A module-level function with the fast calling convention (no argument tuple is built).
typedef PyObject *(*corral_py_fastcall)(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
static inline PyObject *corral_py_function(const char *name, corral_py_fastcall body) {
    PyMethodDef *definition = calloc(1, sizeof *definition);   // lives as long as the process
    definition->ml_name = name;
    definition->ml_meth = (PyCFunction)(void (*)(void))body;
    definition->ml_flags = METH_FASTCALL;
    return PyCFunction_New(definition, NULL);
}

/// Starts the interpreter without its signal handlers (the worker reads TERM, INT, QUIT and USR1
/// from its signalfd), with `executable` (a virtualenv's bin/python, or NULL) deciding sys.prefix and so
/// site-packages. Returns NULL on success, else the reason.
static inline const char *corral_py_initialize(const char *executable) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    PyStatus status = PyStatus_Ok();
    if (executable) status = PyConfig_SetBytesString(&config, &config.executable, executable);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) return status.err_msg ? status.err_msg : "Python failed to initialise";
    return NULL;
}
