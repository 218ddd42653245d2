/* wrap/args.h -- what every entry point of the wrapper shares: the call record (owned
 * references, the workspace), messages, argument parsing, conversion of arrays and
 * scalars, fresh outputs, and running a kernel without the GIL.
 * The wrapper is one translation unit, csrc/_core.c, which includes every part of
 * csrc/wrap/ once; each part includes what it uses (this file first), so that it also
 * compiles on its own.  This file is the only one that includes Python.h and the NumPy
 * headers: the core (csrc/tn_*) knows nothing of Python. */
#ifndef TN_WRAP_ARGS_H
#define TN_WRAP_ARGS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "tinynet.h"

/* The number of elements of an ndarray, inline (PyArray_SIZE goes through NumPy's
 * function table: a measurable share of a call on tiny arrays).  An existing array's
 * size always fits npy_intp. */
static inline npy_intp nelems(PyArrayObject *a)
{
    npy_intp n = 1;
    for (int i = 0, nd = PyArray_NDIM(a); i < nd; i++) n *= PyArray_DIM(a, i);
    return n;
}

/* ------------------------------------------------------------------ the call record */

#define MAXREF 48
#define SMALL_WORK_BYTES 8192

typedef struct {
    const char *fn;        /* public name, prefixes every message */
    int type;              /* NPY_FLOAT or NPY_DOUBLE once resolved, else -1 */
    const char *type_from; /* the argument that fixed the dtype */
    PyObject *refs[MAXREF];
    int nrefs;
    void *heap;       /* workspace too large for `small` */
    size_t heap_size; /* its size in bytes */
    union {
        double d[SMALL_WORK_BYTES / sizeof(double)];
        char c[SMALL_WORK_BYTES];
    } small;
} Call;

static void call_init(Call *c, const char *fn)
{
    c->fn = fn;
    c->type = -1;
    c->type_from = NULL;
    c->nrefs = 0;
    c->heap = NULL;
    c->heap_size = 0;
}

/* Takes ownership of o (may be NULL); released by call_done. */
static PyObject *keep(Call *c, PyObject *o)
{
    if (o == NULL) return NULL;
    if (c->nrefs == MAXREF) { /* a programming error in this file, never user input */
        Py_DECREF(o);
        PyErr_SetString(PyExc_SystemError, "tinynet: too many temporaries in one call");
        return NULL;
    }
    c->refs[c->nrefs++] = o;
    return o;
}

/* One large workspace kept between calls.  A multi-megabyte block freshly mapped for
 * every call costs its page faults every time (BENCHMARKS.md measures a big RNN pass);
 * blocks from CACHE_MIN_BYTES up are handed back here instead of freed, and the next
 * call that fits takes it.  At most one block is held (the latest); threads exchange it
 * atomically, and a block in use belongs to exactly one call. */
#define CACHE_MIN_BYTES (1u << 20)
typedef struct {
    size_t size;
} CacheHead; /* placed before the block's usable bytes */
static _Atomic(CacheHead *) workspace_cache = NULL;

/* The cached block if it holds at least `bytes` (its size in *size), else NULL. */
static void *cache_take(size_t bytes, size_t *size)
{
    CacheHead *h = atomic_exchange(&workspace_cache, NULL);
    if (h && h->size >= bytes) return *size = h->size, h;
    PyMem_RawFree(h);
    return NULL;
}

static void cache_put(void *block, size_t size)
{
    CacheHead *h = block;
    h->size = size;
    PyMem_RawFree(atomic_exchange(&workspace_cache, h));
}

static void call_done(Call *c)
{
    for (int i = 0; i < c->nrefs; i++) Py_DECREF(c->refs[i]);
    c->nrefs = 0;
    if (c->heap && c->heap_size >= CACHE_MIN_BYTES)
        cache_put(c->heap, c->heap_size);
    else
        PyMem_RawFree(c->heap);
    c->heap = NULL;
}

/* ------------------------------------------------------------------------ messages */

/* "(n0, n1, ...)" of the first nd values of v, as Python prints a tuple (size >= 16); a
 * list too long for buf ends in ", ...)". */
static const char *fmt_tuple(const npy_intp *v, int nd, const char *open, const char *close, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "%s", open);
    for (int i = 0; i < nd; i++) {
        char item[32];
        size_t m = (size_t)snprintf(item, sizeof item, i ? ", %zd" : "%zd", (Py_ssize_t)v[i]);
        if (k + m + 8 > size) {
            snprintf(buf + k, size - k, ", ...%s", close);
            return buf;
        }
        memcpy(buf + k, item, m + 1);
        k += m;
    }
    snprintf(buf + k, size - k, "%s", nd == 1 && close[0] == ')' ? ",)" : close);
    return buf;
}

static const char *fmt_shape(PyArrayObject *a, char *buf, size_t size)
{
    return fmt_tuple(PyArray_DIMS(a), PyArray_NDIM(a), "(", ")", buf, size);
}

/* A value's type as Python's type(v).__name__ gives it ("ndarray", not "numpy.ndarray"). */
static const char *short_type(PyObject *o)
{
    const char *n = Py_TYPE(o)->tp_name, *dot = strrchr(n, '.');
    return dot ? dot + 1 : n;
}

/* A double as Python's repr() writes it ("0.1", "-1.0", "nan"). */
static const char *fmt_double(double v, char *buf, size_t size)
{
    char *r = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (r == NULL) {
        PyErr_Clear();
        snprintf(buf, size, "%.17g", v);
    } else {
        snprintf(buf, size, "%s", r);
        PyMem_Free(r);
    }
    return buf;
}

static const char *type_name(int type) { return type == NPY_FLOAT ? "float32" : "float64"; }

/* "{fn}: {name} has shape {got}, expected {pattern}{where}" */
static int shape_error(Call *c, const char *name, PyArrayObject *a, const char *pattern, const char *where)
{
    char got[160];
    PyErr_Format(PyExc_ValueError, "%s: %s has shape %s, expected %s%s", c->fn, name,
                 fmt_shape(a, got, sizeof got), pattern, where ? where : "");
    return -1;
}

/* Is a nd-dimensional with a.shape[i] == dims[i] wherever dims[i] >= 0? */
static int fits(PyArrayObject *a, int nd, const npy_intp *dims)
{
    if (PyArray_NDIM(a) != nd) return 0;
    for (int i = 0; i < nd; i++)
        if (dims[i] >= 0 && PyArray_DIM(a, i) != dims[i]) return 0;
    return 1;
}

/* a must fit (nd, dims); else a shape error whose `where` part is formatted from
 * where_fmt -- only then, so that a good call pays nothing for its messages. */
static int expect(Call *c, const char *name, PyArrayObject *a, int nd, const npy_intp *dims, const char *pattern,
                  const char *where_fmt, ...)
{
    if (fits(a, nd, dims)) return 0;
    char where[400] = "";
    if (where_fmt) {
        va_list ap;
        va_start(ap, where_fmt);
        vsnprintf(where, sizeof where, where_fmt, ap);
        va_end(ap);
    }
    return shape_error(c, name, a, pattern, where);
}

/* a must have exactly the shape of ref. */
static int same_shape(Call *c, const char *name, PyArrayObject *a, const char *ref_name, PyArrayObject *ref)
{
    if (PyArray_NDIM(a) == PyArray_NDIM(ref) &&
        (PyArray_NDIM(a) == 0 || memcmp(PyArray_DIMS(a), PyArray_DIMS(ref), (size_t)PyArray_NDIM(a) * sizeof(npy_intp)) == 0))
        return 0;
    char s1[160], s2[160];
    PyErr_Format(PyExc_ValueError, "%s: %s has shape %s but %s has shape %s; they must match", c->fn, name,
                 fmt_shape(a, s1, sizeof s1), ref_name, fmt_shape(ref, s2, sizeof s2));
    return -1;
}

/* The rows of an array of shape (..., K) seen as a matrix (R, K): the product of every
 * dimension but the last, saturating at NPY_MAX_INTP.  It can only saturate when K = 0
 * (else R K is the array's size): then every result with R rows and K > 0 columns is
 * too large to exist, and one with no columns is empty. */
static npy_intp leading_rows(PyArrayObject *a)
{
    npy_intp r = 1;
    for (int i = 0; i < PyArray_NDIM(a) - 1; i++)
        if (__builtin_mul_overflow(r, PyArray_DIM(a, i), &r)) return NPY_MAX_INTP;
    return r;
}

/* dims = a's shape with its last dimension replaced by last (nd = a's ndim). */
static void with_last(PyArrayObject *a, npy_intp last, npy_intp *dims)
{
    int nd = PyArray_NDIM(a);
    memcpy(dims, PyArray_DIMS(a), (size_t)nd * sizeof(npy_intp));
    dims[nd - 1] = last;
}

/* a must be (..., K), at least min_nd dimensions, K = k: else a shape error naming the
 * pattern and where k comes from. */
static int expect_last(Call *c, const char *name, PyArrayObject *a, int min_nd, npy_intp k, const char *pattern,
                       const char *k_from)
{
    int nd = PyArray_NDIM(a);
    if (nd >= min_nd && nd >= 1 && PyArray_DIM(a, nd - 1) == k) return 0;
    char where[200];
    snprintf(where, sizeof where, " with %s = %zd", k_from, (Py_ssize_t)k);
    return shape_error(c, name, a, pattern, where);
}

/* ------------------------------------------------------------------ argument parsing */

/* Vectorcall arguments into *dst[i] by position, then by keyword (kwlist order); the first
 * nreq are required, the others keep their preset defaults.  Errors read as CPython's. */
static int parse(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                 const char *const *kwlist, int nreq, PyObject **dst[])
{
    int n = 0;
    while (kwlist[n]) n++;
    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", fn, n, n == 1 ? "" : "s", nargs);
        return -1;
    }
    unsigned long long given = 0; /* bit i: argument i supplied (n <= 64) */
    for (Py_ssize_t i = 0; i < nargs; i++) *dst[i] = args[i], given |= 1ull << i;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        const char *name = PyUnicode_AsUTF8(key);
        if (name == NULL) return -1;
        int i = 0;
        while (i < n && strcmp(name, kwlist[i]) != 0) i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%s'", fn, name);
            return -1;
        }
        if (given & (1ull << i)) {
            PyErr_Format(PyExc_TypeError, "argument for %s() given by name ('%s') and position (%d)", fn, name, i + 1);
            return -1;
        }
        *dst[i] = args[nargs + k], given |= 1ull << i;
    }
    for (int i = 0; i < nreq; i++)
        if (!(given & (1ull << i))) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %d)", fn, kwlist[i], i + 1);
            return -1;
        }
    return 0;
}

/* ------------------------------------------------------------------ argument conversion */

/* Plain Python values take the call's dtype; everything else brings its own. */
static int is_weak(PyObject *o) { return PyList_Check(o) || PyTuple_Check(o) || PyLong_Check(o) || PyFloat_Check(o); }

/* obj as an ndarray of whatever dtype it has: an ndarray itself (borrowed: the caller's
 * arguments outlive the call), else a new reference kept by the call. */
static PyArrayObject *raw_array(Call *c, const char *name, PyObject *obj)
{
    if (PyArray_Check(obj)) return (PyArrayObject *)obj;
    if (obj == Py_None || PyUnicode_Check(obj) || PyBytes_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an array, not %s", c->fn, name, short_type(obj));
        return NULL;
    }
    PyObject *a = PyArray_FromAny(obj, NULL, 0, 0, 0, NULL);
    if (a == NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyErr_GivenExceptionMatches(type, PyExc_ValueError) || PyErr_GivenExceptionMatches(type, PyExc_TypeError)) {
            PyErr_Format(type, "%s: %s could not be converted to an array: %S", c->fn, name, value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        } else {
            PyErr_Restore(type, value, tb);
        }
        return NULL;
    }
    return (PyArrayObject *)keep(c, a);
}

static int dtype_error(Call *c, const char *name, PyArrayObject *a, const char *what)
{
    PyErr_Format(PyExc_TypeError, "%s: %s must be %s, got dtype %S", c->fn, name, what, (PyObject *)PyArray_DESCR(a));
    return -1;
}

/* Record the float dtype an argument brings (or check a weak one's values are numbers). */
static int resolve(Call *c, const char *name, PyObject *obj, PyArrayObject *raw)
{
    int t = PyArray_TYPE(raw);
    if (is_weak(obj)) {
        char k = PyArray_DESCR(raw)->kind;
        if (k == 'f' || k == 'i' || k == 'u') return 0;
        return dtype_error(c, name, raw, "an array of real numbers (float32 or float64)");
    }
    if (t != NPY_FLOAT && t != NPY_DOUBLE) return dtype_error(c, name, raw, "float32 or float64");
    if (c->type < 0) {
        c->type = t;
        c->type_from = name;
    } else if (c->type != t) {
        PyErr_Format(PyExc_TypeError, "%s: %s is %s but %s is %s; all float arrays of one call must share one dtype",
                     c->fn, name, type_name(t), c->type_from, type_name(c->type));
        return -1;
    }
    return 0;
}

/* raw as an aligned C-contiguous native array of `type`: raw itself when it already is
 * one (the common case, no copy and no new reference), else a converted copy (kept). */
static PyArrayObject *cast(Call *c, PyArrayObject *raw, int type)
{
    if (PyArray_TYPE(raw) == type && PyArray_ISCARRAY_RO(raw) && PyArray_ISNOTSWAPPED(raw)) return raw;
    PyArray_Descr *d = PyArray_DescrFromType(type);
    if (d == NULL) return NULL;
    return (PyArrayObject *)keep(
        c, PyArray_FromArray(raw, d, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED | NPY_ARRAY_FORCECAST));
}

typedef struct {
    const char *name;
    PyObject *obj;
    PyArrayObject **out;
    int optional; /* None allowed: *out = NULL */
} FArg;

/* Convert a call's float arguments together, so that they share one dtype. */
static int floats(Call *c, FArg *args, int n)
{
    PyArrayObject *raw[16];
    for (int i = 0; i < n; i++) {
        raw[i] = NULL;
        *args[i].out = NULL;
        if (args[i].obj == NULL || (args[i].optional && args[i].obj == Py_None)) continue;
        raw[i] = raw_array(c, args[i].name, args[i].obj);
        if (raw[i] == NULL || resolve(c, args[i].name, args[i].obj, raw[i])) return -1;
    }
    if (c->type < 0) { /* only lists and numbers: float64, which a later in-place array must match */
        c->type = NPY_DOUBLE;
        for (int i = n - 1; i >= 0; i--)
            if (raw[i]) c->type_from = args[i].name; /* (never NULL in a message) */
        if (!c->type_from) c->type_from = args[0].name;
    }
    for (int i = 0; i < n; i++)
        if (raw[i] && (*args[i].out = cast(c, raw[i], c->type)) == NULL) return -1;
    return 0;
}

static int is_int_kind(PyArrayObject *a)
{
    char k = PyArray_DESCR(a)->kind;
    return k == 'i' || k == 'u';
}

/* "[i, j]" for element `flat` of a (row-major), "" for a 0-d array. */
static const char *fmt_index(PyArrayObject *a, npy_intp flat, char *buf, size_t size)
{
    int nd = PyArray_NDIM(a);
    npy_intp pos[NPY_MAXDIMS];
    for (int d = nd - 1; d >= 0; d--) {
        pos[d] = flat % PyArray_DIM(a, d);
        flat /= PyArray_DIM(a, d);
    }
    if (nd == 0) return buf[0] = '\0', buf;
    return fmt_tuple(pos, nd, "[", "]", buf, size);
}

/* Unsigned 64-bit ids above INT64_MAX would wrap to negative int64: report them as given. */
static int check_uint64(Call *c, const char *name, PyArrayObject *raw)
{
    if (PyArray_DESCR(raw)->kind != 'u' || PyArray_ITEMSIZE(raw) < 8) return 0;
    PyArrayObject *u = cast(c, raw, NPY_UINT64);
    if (u == NULL) return -1;
    const npy_uint64 *v = (const npy_uint64 *)PyArray_DATA(u);
    npy_intp n = nelems(u);
    for (npy_intp i = 0; i < n; i++) {
        if (v[i] <= (npy_uint64)NPY_MAX_INT64) continue;
        char idx[200], shp[160];
        PyErr_Format(PyExc_IndexError, "%s: %s%s = %llu is out of range (too large for an index); %s has shape %s",
                     c->fn, name, fmt_index(u, i, idx, sizeof idx), (unsigned long long)v[i], name,
                     fmt_shape(u, shp, sizeof shp));
        return -1;
    }
    return 0;
}

/* An integer argument (tokens, targets, indices) as int64; any integer dtype. */
static PyArrayObject *ints_from_raw(Call *c, const char *name, PyObject *obj, PyArrayObject *raw)
{
    if (!is_int_kind(raw) && !(is_weak(obj) && nelems(raw) == 0)) {
        dtype_error(c, name, raw, "an integer array");
        return NULL;
    }
    if (check_uint64(c, name, raw)) return NULL;
    return cast(c, raw, NPY_INT64);
}

static PyArrayObject *ints(Call *c, const char *name, PyObject *obj)
{
    PyArrayObject *raw = raw_array(c, name, obj);
    return raw ? ints_from_raw(c, name, obj, raw) : NULL;
}

/* Does every value of the int64 array a lie in [0, hi)? */
static int all_in_range(PyArrayObject *a, npy_intp hi)
{
    const npy_int64 *v = (const npy_int64 *)PyArray_DATA(a);
    npy_intp n = nelems(a);
    for (npy_intp i = 0; i < n; i++)
        if (v[i] < 0 || v[i] >= hi) return 0;
    return 1;
}

/* Every value of the int64 array a must lie in [0, hi); else `exc` (IndexError for ids,
 * ValueError for counts). */
static int in_range_or(Call *c, PyObject *exc, const char *name, PyArrayObject *a, npy_intp hi, const char *hi_what)
{
    if (all_in_range(a, hi)) return 0;
    const npy_int64 *v = (const npy_int64 *)PyArray_DATA(a);
    npy_intp n = nelems(a);
    for (npy_intp i = 0; i < n; i++) { /* the first one out of range, for the message */
        if (v[i] >= 0 && v[i] < hi) continue;
        char idx[200], shp[160];
        PyErr_Format(exc, "%s: %s%s = %lld is out of range [0, %zd) (%s); %s has shape %s", c->fn, name,
                     fmt_index(a, i, idx, sizeof idx), (long long)v[i], (Py_ssize_t)hi, hi_what, name,
                     fmt_shape(a, shp, sizeof shp));
        return -1;
    }
    return 0;
}

/* Ids: every value of the int64 array a in [0, hi), else IndexError. */
static int in_range(Call *c, const char *name, PyArrayObject *a, npy_intp hi, const char *hi_what)
{
    return in_range_or(c, PyExc_IndexError, name, a, hi, hi_what);
}

/* ----------------------------------------------------------------------- scalars */

static int get_double(Call *c, const char *name, PyObject *o, double *out)
{
    if (o == Py_None || PyUnicode_Check(o) || PyBytes_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be a real number, not %s", c->fn, name, short_type(o));
        return -1;
    }
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
        int too_big = PyErr_ExceptionMatches(PyExc_OverflowError); /* an int beyond the float range */
        PyErr_Clear();
        if (too_big)
            PyErr_Format(PyExc_ValueError, "%s: %s is out of range (too large for a float)", c->fn, name);
        else
            PyErr_Format(PyExc_TypeError, "%s: %s must be a real number, not %s", c->fn, name, short_type(o));
        return -1;
    }
    *out = v;
    return 0;
}

/* A hyperparameter that must be a finite number >= 0 (eps, lr, weight_decay): the one
 * rule for all of them, NaN and infinities refused. */
static int get_nonneg(Call *c, const char *name, PyObject *o, double *out)
{
    if (get_double(c, name, o, out)) return -1;
    if (*out >= 0 && isfinite(*out)) return 0;
    char buf[64];
    PyErr_Format(PyExc_ValueError, "%s: %s must be a finite number >= 0, got %s", c->fn, name,
                 fmt_double(*out, buf, sizeof buf));
    return -1;
}

/* An integer scalar (Python int, NumPy integer, anything with __index__). */
static int get_int(Call *c, const char *name, PyObject *o, long long *out)
{
    PyObject *i = (o == Py_None || PyFloat_Check(o)) ? NULL : PyNumber_Index(o);
    if (i == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: %s must be an integer, not %s", c->fn, name, short_type(o));
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(i, &overflow);
    Py_DECREF(i);
    if (overflow || (v == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s: %s is out of range", c->fn, name);
        return -1;
    }
    *out = v;
    return 0;
}

/* A flag: any object with a truth value (an array of several elements has none). */
static int get_truth(Call *c, const char *name, PyObject *o, int *out)
{
    if ((*out = PyObject_IsTrue(o)) >= 0) return 0;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (PyErr_GivenExceptionMatches(type, PyExc_ValueError) || PyErr_GivenExceptionMatches(type, PyExc_TypeError)) {
        PyErr_Format(type, "%s: %s must be true or false: %S", c->fn, name, value ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    } else {
        PyErr_Restore(type, value, tb);
    }
    return -1;
}

/* A string argument `name` that is one of two words: first -> *index = 0, second -> 1;
 * anything else a ValueError naming the argument and the words. */
static int get_choice(Call *c, PyObject *o, const char *name, const char *first, const char *second, int *index)
{
    if (PyUnicode_Check(o)) {
        if (PyUnicode_CompareWithASCIIString(o, first) == 0) return *index = 0, 0;
        if (PyUnicode_CompareWithASCIIString(o, second) == 0) return *index = 1, 0;
    }
    PyErr_Format(PyExc_ValueError, "%s: %s must be \"%s\" or \"%s\", got %R", c->fn, name, first, second, o);
    return -1;
}

/* "mean" -> 1, "sum" -> 0 */
static int get_reduction(Call *c, PyObject *o, int *mean)
{
    int sum;
    if (get_choice(c, o, "reduction", "mean", "sum", &sum)) return -1;
    *mean = !sum;
    return 0;
}

/* bptt_steps: None (full BPTT, 0 for the core) or an integer >= 1 */
static int get_bptt(Call *c, PyObject *o, size_t *k)
{
    long long v;
    if (o == Py_None) return *k = 0, 0;
    if (get_int(c, "bptt_steps", o, &v)) return -1;
    if (v < 1) {
        PyErr_Format(PyExc_ValueError, "%s: bptt_steps must be None (full BPTT) or >= 1, got %lld", c->fn, v);
        return -1;
    }
    *k = (size_t)v;
    return 0;
}

/* ------------------------------------------------------------ outputs and workspace */

/* A result that cannot be allocated, said again with the function and the result's shape:
 * too large to exist (NumPy's ValueError "array is too big", or a size sum that would
 * wrap) stays a ValueError, out of memory a MemoryError; anything else passes through. */
static void *out_failed(Call *c, int nd, const npy_intp *dims, int type)
{
    char s[160];
    int memory = PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_MemoryError);
    if (PyErr_Occurred() && !memory && !PyErr_ExceptionMatches(PyExc_ValueError)) return NULL;
    PyErr_Clear();
    fmt_tuple(dims, nd, "(", ")", s, sizeof s);
    const char *tn = type == NPY_INT64 ? "int64" : type_name(type);
    if (memory)
        PyErr_Format(PyExc_MemoryError, "%s: not enough memory for a result of shape %s (%s)", c->fn, s, tn);
    else
        PyErr_Format(PyExc_ValueError, "%s: a result of shape %s (%s) would be too large", c->fn, s, tn);
    return NULL;
}

static int new_outs(Call *c, int n, const int *nds, npy_intp *const *dims, PyArrayObject **out);

/* Results from this size up are made 64-byte aligned (new_outs): NumPy's allocator
 * aligns to 16 bytes only, and a vector kernel streaming over rows that straddle cache
 * lines pays for it on every load and store.  Smaller results
 * stay ordinary arrays owning their data, which are cheaper to make. */
#define ALIGNED_OUT_BYTES (64 * 1024)

static PyArrayObject *new_out(Call *c, int nd, const npy_intp *dims, int type)
{
    npy_intp bytes = type == NPY_FLOAT ? (npy_intp)sizeof(float) : (npy_intp)sizeof(double);
    int overflow = 0;
    for (int d = 0; d < nd; d++) overflow |= __builtin_mul_overflow(bytes, dims[d], &bytes);
    if (type == c->type && !overflow && bytes >= ALIGNED_OUT_BYTES) {
        PyArrayObject *o;
        return new_outs(c, 1, &nd, (npy_intp *const *)&dims, &o) ? NULL : o;
    }
    PyObject *a = PyArray_EMPTY(nd, (npy_intp *)dims, type, 0);
    return a ? (PyArrayObject *)keep(c, a) : out_failed(c, nd, dims, type);
}

/* n <= 8 outputs in one allocation: out[i] gets nds[i] dimensions dims[i], each a
 * C-contiguous writeable view of its own 64-byte-aligned stretch of one buffer (the
 * views' base).  For calls that return several small arrays, one data allocation
 * instead of n.  The sizes are summed with overflow checks: a dimension can come from a
 * zero-size input (B of inputs (0, B)), so no product is known to fit beforehand. */
static int new_outs(Call *c, int n, const int *nds, npy_intp *const *dims, PyArrayObject **out)
{
    npy_intp off[8], total = 0, item = c->type == NPY_FLOAT ? (npy_intp)sizeof(float) : (npy_intp)sizeof(double);
    for (int i = 0; i < n; i++) {
        npy_intp bytes = item;
        for (int d = 0; d < nds[i]; d++)
            if (__builtin_mul_overflow(bytes, dims[i][d], &bytes)) bytes = NPY_MAX_INTP;
        off[i] = total;
        if (bytes > NPY_MAX_INTP - 64 || __builtin_add_overflow(total, (bytes + 63) / 64 * 64, &total))
            return out_failed(c, nds[i], dims[i], c->type), -1;
    }
    /* room to start at a multiple of 64 bytes, whatever the allocator's alignment */
    if (__builtin_add_overflow(total, 63, &total)) return out_failed(c, nds[n - 1], dims[n - 1], c->type), -1;
    PyArrayObject *buf = (PyArrayObject *)PyArray_EMPTY(1, &total, NPY_UINT8, 0);
    if (!buf) return out_failed(c, nds[n - 1], dims[n - 1], c->type), -1;
    if (!keep(c, (PyObject *)buf)) return -1;
    char *start = PyArray_BYTES(buf) + ((64 - (uintptr_t)PyArray_BYTES(buf) % 64) % 64);
    for (int i = 0; i < n; i++) {
        PyArray_Descr *descr = PyArray_DescrFromType(c->type);
        out[i] = (PyArrayObject *)keep(c, PyArray_NewFromDescr(&PyArray_Type, descr, nds[i], dims[i], NULL,
                                                                  start + off[i], NPY_ARRAY_CARRAY, NULL));
        if (!out[i]) return -1;
        Py_INCREF(buf); /* the view's base reference (stolen) */
        if (PyArray_SetBaseObject(out[i], (PyObject *)buf)) return -1;
    }
    return 0;
}

/* Scratch for the kernel: elems of the call's dtype, 64-byte aligned. */
static void *workspace(Call *c, size_t elems)
{
    size_t item = c->type == NPY_FLOAT ? sizeof(float) : sizeof(double), bytes;
    if (elems == SIZE_MAX || tn_size_mul(elems, item, &bytes) || tn_size_add(bytes, 64, &bytes)) {
        PyErr_Format(PyExc_MemoryError, "%s: the workspace for these shapes is too large", c->fn);
        return NULL;
    }
    char *p;
    if (bytes <= sizeof c->small) {
        p = c->small.c;
    } else {
        /* room for the cache's header in front (64 bytes keep the alignment arithmetic) */
        if (tn_size_add(bytes, 64, &bytes)) {
            PyErr_Format(PyExc_MemoryError, "%s: the workspace for these shapes is too large", c->fn);
            return NULL;
        }
        c->heap = bytes >= CACHE_MIN_BYTES ? cache_take(bytes, &c->heap_size) : NULL;
        if (c->heap == NULL) {
            c->heap = PyMem_RawMalloc(bytes);
            c->heap_size = bytes;
        }
        if (c->heap == NULL) {
            PyErr_Format(PyExc_MemoryError, "%s: cannot allocate %zu bytes of workspace", c->fn, bytes);
            return NULL;
        }
        p = (char *)c->heap + 64;
    }
    return p + ((64 - ((uintptr_t)p & 63)) & 63);
}

/* Run a kernel, releasing the GIL when its work (about `cost` flops) is large enough
 * that other Python threads gain more than the release costs. */
#define GIL_THRESHOLD 20000.0
#define RUN(cost, stmt)                                                                                           \
    do {                                                                                                          \
        if ((double)(cost) > GIL_THRESHOLD) {                                                                     \
            Py_BEGIN_ALLOW_THREADS stmt;                                                                          \
            Py_END_ALLOW_THREADS                                                                                  \
        } else {                                                                                                  \
            stmt;                                                                                                 \
        }                                                                                                         \
    } while (0)

/* Calls whose outputs are all empty skip their kernel (`if (SIZE(y)) RUN(...)`): nothing
 * is written, and a loop over another dimension could be long for nothing -- x of shape
 * (2**59, 0) is a valid empty array. */

/* The kernel for the call's dtype; array pointers are passed as void *. */
#define KERNEL(c, name, ...) ((c)->type == NPY_FLOAT ? tn_##name##_f32(__VA_ARGS__) : tn_##name##_f64(__VA_ARGS__))
#define P(a) ((a) ? PyArray_DATA(a) : NULL)
#define DIM(a, i) ((size_t)PyArray_DIM(a, i))
#define SIZE(a) ((size_t)nelems(a))

/* Return o (borrowed from the call) as a new reference. */
static PyObject *ret(PyArrayObject *o)
{
    Py_INCREF(o);
    return (PyObject *)o;
}

/* ------------------------------------------------------------ in-place arrays */

/* An array updated in place: an ndarray, float32/float64, writeable, C-contiguous,
 * aligned, native byte order.  The first one fixes the call's dtype. */
static PyArrayObject *inplace(Call *c, const char *name, PyObject *o)
{
    if (!PyArray_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s: %s is updated in place, so it must be a NumPy array, not %s", c->fn, name,
                     short_type(o));
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)o;
    int t = PyArray_TYPE(a);
    if (t != NPY_FLOAT && t != NPY_DOUBLE) {
        dtype_error(c, name, a, "float32 or float64");
        return NULL;
    }
    if (c->type < 0) {
        c->type = t;
        c->type_from = name;
    } else if (t != c->type) {
        PyErr_Format(PyExc_TypeError, "%s: %s is %s but %s is %s; all float arrays of one call must share one dtype",
                     c->fn, name, type_name(t), c->type_from, type_name(c->type));
        return NULL;
    }
    const char *why = !PyArray_ISWRITEABLE(a)        ? "is read-only"
                      : !PyArray_IS_C_CONTIGUOUS(a) ? "is not C-contiguous"
                      : !PyArray_ISALIGNED(a)        ? "is not aligned"
                      : !PyArray_ISNOTSWAPPED(a)     ? "is not in native byte order"
                                                     : NULL;
    if (why) {
        char s[160];
        PyErr_Format(PyExc_ValueError, "%s: %s %s (shape %s); in-place updates need a writeable, C-contiguous array",
                     c->fn, name, why, fmt_shape(a, s, sizeof s));
        return NULL;
    }
    return a;
}

static int overlaps(PyArrayObject *a, PyArrayObject *b)
{
    npy_intp na = nelems(a) * PyArray_ITEMSIZE(a), nb = nelems(b) * PyArray_ITEMSIZE(b);
    const char *a0 = PyArray_BYTES(a), *b0 = PyArray_BYTES(b);
    return na > 0 && nb > 0 && a0 < b0 + nb && b0 < a0 + na;
}

#endif /* TN_WRAP_ARGS_H */
