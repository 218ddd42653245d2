/*
 * _core.c -- the CPython / NumPy wrapper around tinynet's C core (tinynet._core).
 *
 * One translation unit: this file and its parts in csrc/wrap/, the only code that
 * includes Python.h and the NumPy headers.  Every function:
 *   1. parses its arguments (static keyword list, the function's name in messages);
 *   2. resolves the call's float dtype: ndarrays and other array objects fix it
 *      (float32 or float64; anything else, or a mix, is a TypeError naming the
 *      argument), plain lists / tuples / numbers take it (float64 if nothing fixes it);
 *   3. converts every array argument to an aligned, C-contiguous, native-byte-order
 *      array of that dtype (copying strided, Fortran or byte-swapped input), integer
 *      arguments to int64;
 *   4. checks every shape and every token / index value, raising ValueError /
 *      TypeError / IndexError with the function, the argument and the shapes;
 *   5. allocates fresh outputs and the kernel's workspace (sizes through checked
 *      multiplies; too large is MemoryError);
 *   6. releases the GIL around the kernel (when the work is large enough to matter);
 *      no Python API is touched while it is released.
 * All owned references live in one Call record released at one exit.
 *
 * Layout: the shared helpers are in wrap/args.h, each layer's entry points (argument
 * checks and kernel calls, forward next to backward) in wrap/<layer>.h, beside the
 * layer's kernels in tn_<layer>.c; wrap/functions.h lists the functions.  This file
 * holds the module: the thread settings, the method table made from that list, and
 * the docstrings, which tinynet/reference.py writes once for both engines.
 */
/* The helpers every entry point uses, then each layer's entry points (csrc/wrap/). */
#include "wrap/args.h"

#include "wrap/attention.h"
#include "wrap/embedding.h"
#include "wrap/gru.h"
#include "wrap/linear.h"
#include "wrap/lstm.h"
#include "wrap/mlp.h"
#include "wrap/norm.h"
#include "wrap/optim.h"
#include "wrap/rnn.h"

/* ====================================================================== module */

PyDoc_STRVAR(set_num_threads_doc,
"set_num_threads(n)\n--\n\n"
"Threads the C engine may use for its large kernels (n <= 0: one per CPU this process\n"
"may use, counting its affinity mask and cgroup CPU quota; or TINYNET_NUM_THREADS).  Results\n"
"are bit-identical for any thread count.  n: an int.  Returns None.\n\n"
">>> import tinynet as tn\n"
">>> before = tn.get_num_threads()\n"
">>> tn.set_num_threads(1); tn.get_num_threads()\n"
"1\n"
">>> tn.set_num_threads(before)\n");

static PyObject *py_set_num_threads(PyObject *self, PyObject *arg)
{
    (void)self;
    Call c;
    long long n;
    call_init(&c, "set_num_threads");
    if (get_int(&c, "n", arg, &n)) return NULL;
    tn_set_num_threads(n > 1024 ? 1024 : n < -1 ? -1 : (int)n);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(get_num_threads_doc,
"get_num_threads()\n--\n\n"
"The number of threads the C engine uses for its large kernels (an int >= 1), as set by\n"
"set_num_threads; by default one per CPU this process may use.\n\n"
">>> import tinynet as tn\n"
">>> tn.get_num_threads() >= 1\n"
"True\n");

static PyObject *py_get_num_threads(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return PyLong_FromLong(tn_get_num_threads());
}

/* _fma_peak(dtype, iters): flops done by tn_fma_flops and the seconds it took (for
 * bench/, which compares every case with this machine's limit). */
static PyObject *py_fma_peak(PyObject *self, PyObject *args)
{
    (void)self;
    int dbl;
    Py_ssize_t iters;
    if (!PyArg_ParseTuple(args, "pn:_fma_peak", &dbl, &iters)) return NULL;
    if (iters < 0 || iters > 1000000000) { /* 1e9: some tens of seconds at most */
        PyErr_Format(PyExc_ValueError, "_fma_peak: iters must be in [0, 1e9], got %zd", iters);
        return NULL;
    }
    double flops, t0, t1;
    PyObject *time = PyImport_ImportModule("time");
    if (!time) return NULL;
    PyObject *a = PyObject_CallMethod(time, "perf_counter", NULL);
    Py_BEGIN_ALLOW_THREADS flops = tn_fma_flops(dbl, (size_t)iters);
    Py_END_ALLOW_THREADS PyObject *b = PyObject_CallMethod(time, "perf_counter", NULL);
    Py_DECREF(time);
    if (!a || !b) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    t0 = PyFloat_AsDouble(a), t1 = PyFloat_AsDouble(b);
    Py_DECREF(a);
    Py_DECREF(b);
    return Py_BuildValue("dd", flops, t1 - t0);
}

/* ---------------------------------------------------------- the functions' docstrings */

/* The functions' docstrings are written once, in tinynet/reference.py; tinynet/__init__.py
 * hands them to _set_docs at import ({name: "name(signature)\n--\n\n" + text}, the form
 * from which CPython derives __doc__ and __text_signature__).  The strings are kept
 * alive here for as long as the module exists. */
static PyObject *docs_kept = NULL;
static PyMethodDef methods[];

static PyObject *py_set_docs(PyObject *self, PyObject *docs)
{
    (void)self;
    if (!PyDict_Check(docs)) {
        PyErr_SetString(PyExc_TypeError, "_set_docs: expected a dict {name: docstring}");
        return NULL;
    }
    PyObject *kept = PyDict_Copy(docs);
    if (kept == NULL) return NULL;
    for (PyMethodDef *m = methods; m->ml_name; m++) {
        PyObject *doc = PyDict_GetItemString(kept, m->ml_name); /* borrowed, kept alive by `kept` */
        if (doc == NULL) continue;
        const char *text = PyUnicode_Check(doc) ? PyUnicode_AsUTF8(doc) : NULL;
        if (text == NULL) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_TypeError, "_set_docs: the docstring of %s is not a str", m->ml_name);
            Py_DECREF(kept);
            return NULL;
        }
        m->ml_doc = text;
    }
    Py_XSETREF(docs_kept, kept);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ the method table */

#define TN_FUNCTION(name, layer) \
    {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL | METH_KEYWORDS, NULL},
static PyMethodDef methods[] = {
#include "wrap/functions.h"
    {"set_num_threads", (PyCFunction)py_set_num_threads, METH_O, set_num_threads_doc},
    {"get_num_threads", (PyCFunction)py_get_num_threads, METH_NOARGS, get_num_threads_doc},
    {"_fma_peak", (PyCFunction)py_fma_peak, METH_VARARGS, "_fma_peak(double, iters) -> (flops, seconds)"},
    {"_set_docs", (PyCFunction)py_set_docs, METH_O, "_set_docs(docs): the functions' docstrings, {name: text}"},
    {NULL, NULL, 0, NULL},
};
#undef TN_FUNCTION

/* FUNCTIONS (the names, in the list's order) and _layers ({name: layer}). */
static int add_function_lists(PyObject *m)
{
    static const char *const table[][2] = {
#define TN_FUNCTION(name, layer) {#name, #layer},
#include "wrap/functions.h"
#undef TN_FUNCTION
    };
    Py_ssize_t n = (Py_ssize_t)(sizeof table / sizeof table[0]);
    PyObject *names = PyTuple_New(n), *layers = PyDict_New();
    int err = names == NULL || layers == NULL;
    for (Py_ssize_t i = 0; !err && i < n; i++) {
        PyObject *name = PyUnicode_InternFromString(table[i][0]), *layer = PyUnicode_FromString(table[i][1]);
        err = name == NULL || layer == NULL || PyDict_SetItem(layers, name, layer) < 0;
        Py_XDECREF(layer);
        if (name) PyTuple_SET_ITEM(names, i, name); /* (steals the reference) */
    }
    /* PyModule_AddObject steals a reference only when it succeeds */
    if (!err && PyModule_AddObject(m, "FUNCTIONS", names) == 0) names = NULL;
    else err = 1;
    if (!err && PyModule_AddObject(m, "_layers", layers) == 0) layers = NULL;
    else err = 1;
    Py_XDECREF(names);
    Py_XDECREF(layers);
    return err ? -1 : 0;
}

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "tinynet._core",
    "tinynet's C engine: forward/backward kernels for small networks on NumPy arrays.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__core(void)
{
    import_array();
    for (int i = 0; i < 5; i++)
        if (!grad_keys[i] && !(grad_keys[i] = PyUnicode_InternFromString(grad_names[i]))) return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    if (m == NULL) return NULL;
    if (PyModule_AddStringConstant(m, "simd", tn_simd_name()) < 0 || add_function_lists(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
