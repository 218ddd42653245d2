/*
 * _core.c -- the CPython / NumPy wrapper around tinynet's C core (tinynet._core).
 *
 * The only file that includes Python.h and the NumPy headers.  Every function:
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
 */
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
 * every call costs its page faults every time (about 6% of a big RNN backward pass);
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
    if (c->type < 0) c->type = NPY_DOUBLE;
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

/* Every value of the int64 array a must lie in [0, hi). */
static int in_range(Call *c, const char *name, PyArrayObject *a, npy_intp hi, const char *hi_what)
{
    const npy_int64 *v = (const npy_int64 *)PyArray_DATA(a);
    npy_intp n = nelems(a);
    for (npy_intp i = 0; i < n; i++) {
        if (v[i] >= 0 && v[i] < hi) continue;
        char idx[200], shp[160];
        PyErr_Format(PyExc_IndexError, "%s: %s%s = %lld is out of range [0, %zd) (%s); %s has shape %s", c->fn, name,
                     fmt_index(a, i, idx, sizeof idx), (long long)v[i], (Py_ssize_t)hi, hi_what, name,
                     fmt_shape(a, shp, sizeof shp));
        return -1;
    }
    return 0;
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

/* "mean" -> 1, "sum" -> 0 */
static int get_reduction(Call *c, PyObject *o, int *mean)
{
    if (PyUnicode_Check(o)) {
        if (PyUnicode_CompareWithASCIIString(o, "mean") == 0) return *mean = 1, 0;
        if (PyUnicode_CompareWithASCIIString(o, "sum") == 0) return *mean = 0, 0;
    }
    PyErr_Format(PyExc_ValueError, "%s: reduction must be \"mean\" or \"sum\", got %R", c->fn, o);
    return -1;
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
 * lines pays for it on every load and store (3-4% of a big RNN step).  Smaller results
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

/* ====================================================================== layers */

PyDoc_STRVAR(linear_forward_doc,
"linear_forward(x, W, b=None)\n--\n\n"
"Affine layer: y = x @ W.T + b.\n\n"
"x: (N, D) or (D,); W: (H, D) (PyTorch nn.Linear layout); b: (H,) or None.\n"
"Returns y: (N, H) or (H,), in the dtype of the float arguments (float32/float64).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> tn.linear_forward(np.ones((2, 3)), np.ones((4, 3)), np.zeros(4)).shape\n"
"(2, 4)\n");

static PyObject *py_linear_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "W", "b", NULL};
    PyObject *ox, *oW, *ob = Py_None, *res = NULL;
    PyArrayObject *x, *W, *b, *y;
    Call c;
    call_init(&c, "linear_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ox, &oW, &ob})) return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"W", oW, &W, 0}, {"b", ob, &b, 1}};
    if (floats(&c, fa, 3)) goto done;
    if (PyArray_NDIM(W) != 2) {
        shape_error(&c, "W", W, "(H, D)", NULL);
        goto done;
    }
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1);
    int batched = PyArray_NDIM(x) == 2;
    npy_intp xd[2] = {-1, D};
    if (expect(&c, "x", x, batched ? 2 : 1, batched ? xd : xd + 1, "(N, D) or (D,)", " with D = W.shape[1] = %zd",
               (Py_ssize_t)D))
        goto done;
    if (b && expect(&c, "b", b, 1, &H, "(H,)", " with H = W.shape[0] = %zd", (Py_ssize_t)H)) goto done;
    npy_intp N = batched ? PyArray_DIM(x, 0) : 1, yd[2] = {N, H};
    if (!(y = new_out(&c, batched ? 2 : 1, batched ? yd : yd + 1, c.type))) goto done;
    void *work = workspace(&c, tn_linear_forward_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    if (SIZE(y))
        RUN(2.0 * N * D * H, KERNEL(&c, linear_forward, P(y), P(x), P(W), P(b), (size_t)N, (size_t)D, (size_t)H, work));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(linear_backward_doc,
"linear_backward(dy, x, W)\n--\n\n"
"Gradients of y = x @ W.T + b given dy = dL/dy.\n\n"
"dy: (N, H) or (H,); x: (N, D) or (D,) (the forward input); W: (H, D).\n"
"Returns (dx, dW, db): dx like x, dW (H, D) = dy.T @ x, db (H,) = dy summed over N;\n"
"float32 or float64, the dtype of the arguments.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> dx, dW, db = tn.linear_backward(np.ones((2, 4)), np.ones((2, 3)), np.ones((4, 3)))\n"
">>> dx.shape, dW.shape, db.shape\n"
"((2, 3), (4, 3), (4,))\n");

static PyObject *py_linear_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dy", "x", "W", NULL};
    PyObject *ody, *ox, *oW, *res = NULL;
    PyArrayObject *dy, *x, *W, *dx, *dW, *db;
    Call c;
    call_init(&c, "linear_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&ody, &ox, &oW})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"x", ox, &x, 0}, {"W", oW, &W, 0}};
    if (floats(&c, fa, 3)) goto done;
    if (PyArray_NDIM(W) != 2) {
        shape_error(&c, "W", W, "(H, D)", NULL);
        goto done;
    }
    npy_intp H = PyArray_DIM(W, 0), D = PyArray_DIM(W, 1);
    int batched = PyArray_NDIM(x) == 2;
    npy_intp xd[2] = {-1, D};
    if (expect(&c, "x", x, batched ? 2 : 1, batched ? xd : xd + 1, "(N, D) or (D,)", " with D = W.shape[1] = %zd",
               (Py_ssize_t)D))
        goto done;
    npy_intp N = batched ? PyArray_DIM(x, 0) : 1, yd[2] = {N, H};
    if (batched ? expect(&c, "dy", dy, 2, yd, "(N, H)", " with N = x.shape[0] = %zd, H = W.shape[0] = %zd",
                         (Py_ssize_t)N, (Py_ssize_t)H)
                : expect(&c, "dy", dy, 1, yd + 1, "(H,)", " for unbatched x of shape (%zd,), with H = W.shape[0] = %zd",
                         (Py_ssize_t)D, (Py_ssize_t)H))
        goto done;
    npy_intp wd[2] = {H, D};
    if (!(dx = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type)) || !(dW = new_out(&c, 2, wd, c.type)) ||
        !(db = new_out(&c, 1, &H, c.type)))
        goto done;
    void *work = workspace(&c, tn_linear_work((size_t)N, (size_t)D, (size_t)H));
    if (!work) goto done;
    if (SIZE(dx) || SIZE(dW) || SIZE(db))
        RUN(4.0 * N * D * H, KERNEL(&c, linear_backward, P(dx), P(dW), P(db), P(dy), P(x), P(W), (size_t)N, (size_t)D,
                                    (size_t)H, work));
    res = Py_BuildValue("OOO", dx, dW, db);
done:
    call_done(&c);
    return res;
}

/* ---------------------------------------------------------------- activations */

typedef void (*ew1_f32)(float *, const float *, size_t);
typedef void (*ew1_f64)(double *, const double *, size_t);
typedef void (*ew2_f32)(float *, const float *, const float *, size_t);
typedef void (*ew2_f64)(double *, const double *, const double *, size_t);

/* y = f(x) elementwise, any shape */
static PyObject *elementwise_forward(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                     ew1_f32 k32, ew1_f64 k64)
{
    static const char *const kwlist[] = {"x", NULL};
    PyObject *ox, *res = NULL;
    PyArrayObject *x, *y;
    Call c;
    call_init(&c, fn);
    if (parse(c.fn, args, nargs, kwnames, kwlist, 1, (PyObject **[]){&ox})) return NULL;
    FArg fa[] = {{"x", ox, &x, 0}};
    if (floats(&c, fa, 1) || !(y = new_out(&c, PyArray_NDIM(x), PyArray_DIMS(x), c.type))) goto done;
    size_t n = SIZE(x);
    if (c.type == NPY_FLOAT)
        RUN(20.0 * n, k32(P(y), P(x), n));
    else
        RUN(20.0 * n, k64(P(y), P(x), n));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

/* dx = g(dy, y) elementwise, any shape (dy and y the same shape) */
static PyObject *elementwise_backward(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                      ew2_f32 k32, ew2_f64 k64)
{
    static const char *const kwlist[] = {"dy", "y", NULL};
    PyObject *ody, *oy, *res = NULL;
    PyArrayObject *dy, *y, *dx;
    Call c;
    call_init(&c, fn);
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ody, &oy})) return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"y", oy, &y, 0}};
    if (floats(&c, fa, 2) || same_shape(&c, "dy", dy, "y", y) ||
        !(dx = new_out(&c, PyArray_NDIM(y), PyArray_DIMS(y), c.type)))
        goto done;
    size_t n = SIZE(y);
    if (c.type == NPY_FLOAT)
        RUN(4.0 * n, k32(P(dx), P(dy), P(y), n));
    else
        RUN(4.0 * n, k64(P(dx), P(dy), P(y), n));
    res = ret(dx);
done:
    call_done(&c);
    return res;
}

#define ACTIVATION(name, fwd_doc, bwd_doc)                                                                        \
    PyDoc_STRVAR(name##_forward_doc, #name "_forward(x)\n--\n\n" fwd_doc);                                      \
    PyDoc_STRVAR(name##_backward_doc, #name "_backward(dy, y)\n--\n\n" bwd_doc);                                \
    static PyObject *py_##name##_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)                           \
    {                                                                                                             \
        (void)self;                                                                                               \
        return elementwise_forward(#name "_forward", args, nargs, kwnames, tn_##name##_forward_f32, tn_##name##_forward_f64); \
    }                                                                                                             \
    static PyObject *py_##name##_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)                          \
    {                                                                                                             \
        (void)self;                                                                                               \
        return elementwise_backward(#name "_backward", args, nargs, kwnames, tn_##name##_backward_f32,                       \
                                    tn_##name##_backward_f64);                                                    \
    }

ACTIVATION(tanh,
           "Elementwise y = tanh(x); x of any shape.  Returns y, same shape and dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.tanh_forward([0.0, 1.0]).round(4)\narray([0.    , 0.7616])\n",
           "Gradient of tanh from its output y: dx = dy * (1 - y**2); dy, y the same shape.\n"
           "Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.tanh_backward([1.0, 1.0], [0.0, 0.5])\narray([1.  , 0.75])\n")
ACTIVATION(sigmoid,
           "Elementwise y = 1 / (1 + exp(-x)); x of any shape.  Returns y, same shape and dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.sigmoid_forward([0.0])\narray([0.5])\n",
           "Gradient of the sigmoid from its output y: dx = dy * y * (1 - y); dy, y the same\n"
           "shape.  Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.sigmoid_backward([1.0], [0.5])\narray([0.25])\n")
ACTIVATION(relu,
           "Elementwise y = max(x, 0); x of any shape (NaN stays NaN).  Returns y, same shape and\n"
           "dtype.\n\n"
           ">>> import tinynet as tn\n>>> tn.relu_forward([-1.0, 2.0])\narray([0., 2.])\n",
           "Gradient of ReLU from its output y: dx = dy where y > 0, else 0; dy, y the same shape.\n"
           "Returns dx, that shape and dtype (float32 or float64).\n\n"
           ">>> import tinynet as tn\n>>> tn.relu_backward([5.0, 5.0], [0.0, 2.0])\narray([0., 5.])\n")

/* ------------------------------------------------------- softmax, cross-entropy */

PyDoc_STRVAR(softmax_doc,
"softmax(logits)\n--\n\n"
"Softmax over the last axis, max-subtracted (finite for huge logits).\n\n"
"logits: (N, V) or (V,) (any leading shape works), float32 or float64.  Returns probs,\n"
"same shape and dtype.\n\n"
">>> import tinynet as tn\n>>> tn.softmax([0.0, 0.0])\narray([0.5, 0.5])\n");

static PyObject *py_softmax(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"logits", NULL};
    PyObject *ol, *res = NULL;
    PyArrayObject *l, *p;
    Call c;
    call_init(&c, "softmax");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 1, (PyObject **[]){&ol})) return NULL;
    FArg fa[] = {{"logits", ol, &l, 0}};
    if (floats(&c, fa, 1)) goto done;
    if (PyArray_NDIM(l) < 1) {
        shape_error(&c, "logits", l, "(N, V) or (V,)", NULL);
        goto done;
    }
    if (!(p = new_out(&c, PyArray_NDIM(l), PyArray_DIMS(l), c.type))) goto done;
    size_t V = DIM(l, PyArray_NDIM(l) - 1), N = V ? SIZE(l) / V : 0;
    RUN(20.0 * N * V, KERNEL(&c, softmax, P(p), P(l), N, V));
    res = ret(p);
done:
    call_done(&c);
    return res;
}

/* logits (N, V) floats and targets (N,) ints in [0, V) */
static int ce_args(Call *c, const char *lname, PyObject *ol, PyObject *ot, PyArrayObject **l, PyArrayObject **t)
{
    FArg fa[] = {{lname, ol, l, 0}};
    if (floats(c, fa, 1) || !(*t = ints(c, "targets", ot))) return -1;
    npy_intp ld[2] = {-1, -1};
    if (expect(c, lname, *l, 2, ld, "(N, V)", NULL)) return -1;
    npy_intp N = PyArray_DIM(*l, 0);
    if (expect(c, "targets", *t, 1, &N, "(N,)", " with N = %s.shape[0] = %zd", lname, (Py_ssize_t)N)) return -1;
    return in_range(c, "targets", *t, PyArray_DIM(*l, 1),
                    strcmp(lname, "logits") == 0 ? "V = logits.shape[1]" : "V = probs.shape[1]");
}

PyDoc_STRVAR(cross_entropy_forward_doc,
"cross_entropy_forward(logits, targets, reduction=\"mean\")\n--\n\n"
"Softmax cross-entropy on logits via log-sum-exp (exact when a target's probability\n"
"underflows, finite for logits of +-1e4).\n\n"
"logits: (N, V) floats; targets: (N,) integers in [0, V); reduction: \"mean\" or \"sum\".\n"
"Returns (loss, probs): loss a Python float (nan for mean over N = 0), probs (N, V).\n\n"
">>> import tinynet as tn\n>>> loss, probs = tn.cross_entropy_forward([[0.0, 0.0]], [1])\n"
">>> round(loss, 6)\n0.693147\n");

static PyObject *py_cross_entropy_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"logits", "targets", "reduction", NULL};
    PyObject *ol, *ot, *ored = NULL, *res = NULL;
    PyArrayObject *l, *t, *p;
    int mean = 1;
    Call c;
    call_init(&c, "cross_entropy_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&ol, &ot, &ored})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || ce_args(&c, "logits", ol, ot, &l, &t) ||
        !(p = new_out(&c, 2, PyArray_DIMS(l), c.type)))
        goto done;
    size_t N = DIM(l, 0), V = DIM(l, 1);
    double loss = 0;
    RUN(20.0 * N * V, loss = KERNEL(&c, cross_entropy_forward, P(p), P(l), P(t), N, V, mean));
    res = Py_BuildValue("dO", loss, p);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(cross_entropy_backward_doc,
"cross_entropy_backward(probs, targets, reduction=\"mean\")\n--\n\n"
"Gradient of softmax cross-entropy with respect to the logits: (probs - onehot) / N\n"
"for \"mean\", probs - onehot for \"sum\".\n\n"
"probs: (N, V) from cross_entropy_forward; targets: (N,) integers in [0, V).\n"
"Returns dlogits (N, V).\n\n"
">>> import tinynet as tn\n>>> tn.cross_entropy_backward([[0.5, 0.5]], [1])\narray([[ 0.5, -0.5]])\n");

static PyObject *py_cross_entropy_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"probs", "targets", "reduction", NULL};
    PyObject *op, *ot, *ored = NULL, *res = NULL;
    PyArrayObject *p, *t, *d;
    int mean = 1;
    Call c;
    call_init(&c, "cross_entropy_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&op, &ot, &ored})) return NULL;
    if ((ored && get_reduction(&c, ored, &mean)) || ce_args(&c, "probs", op, ot, &p, &t) ||
        !(d = new_out(&c, 2, PyArray_DIMS(p), c.type)))
        goto done;
    size_t N = DIM(p, 0), V = DIM(p, 1);
    RUN(2.0 * N * V, KERNEL(&c, cross_entropy_backward, P(d), P(p), P(t), N, V, mean));
    res = ret(d);
done:
    call_done(&c);
    return res;
}

/* ------------------------------------------------------------------- embedding */

PyDoc_STRVAR(embedding_forward_doc,
"embedding_forward(table, idx)\n--\n\n"
"Row lookup: out = table[idx].\n\n"
"table: (V, E) floats; idx: integers of any shape S, each in [0, V) (negative or\n"
"too large is IndexError).  Returns out: S + (E,).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> tn.embedding_forward(np.eye(3), [[2, 0]]).shape\n(1, 2, 3)\n");

static PyObject *py_embedding_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"table", "idx", NULL};
    PyObject *otab, *oidx, *res = NULL;
    PyArrayObject *tab, *idx, *out;
    Call c;
    call_init(&c, "embedding_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 2, (PyObject **[]){&otab, &oidx})) return NULL;
    FArg fa[] = {{"table", otab, &tab, 0}};
    if (floats(&c, fa, 1) || !(idx = ints(&c, "idx", oidx))) goto done;
    npy_intp td[2] = {-1, -1};
    if (expect(&c, "table", tab, 2, td, "(V, E)", NULL) || in_range(&c, "idx", idx, PyArray_DIM(tab, 0), "V = table.shape[0]"))
        goto done;
    int nd = PyArray_NDIM(idx);
    if (nd + 1 > NPY_MAXDIMS) {
        char pat[96];
        snprintf(pat, sizeof pat, "at most %d dimensions (out = table[idx] adds one)", NPY_MAXDIMS - 1);
        shape_error(&c, "idx", idx, pat, NULL);
        goto done;
    }
    npy_intp od[NPY_MAXDIMS];
    for (int i = 0; i < nd; i++) od[i] = PyArray_DIM(idx, i);
    od[nd] = PyArray_DIM(tab, 1);
    if (!(out = new_out(&c, nd + 1, od, c.type))) goto done;
    size_t n = SIZE(idx), E = DIM(tab, 1);
    RUN(1.0 * n * E, KERNEL(&c, embedding_forward, P(out), P(tab), P(idx), n, E));
    res = ret(out);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(embedding_backward_doc,
"embedding_backward(dout, idx, num_embeddings)\n--\n\n"
"Gradient of embedding_forward with respect to the table: a scatter-add, so repeated\n"
"indices accumulate (in index order, like np.add.at).\n\n"
"dout: S + (E,); idx: integers of shape S in [0, num_embeddings).\n"
"Returns dtable: (num_embeddings, E).\n\n"
">>> import tinynet as tn\n>>> tn.embedding_backward([[1.0], [2.0]], [0, 0], 2)\narray([[3.],\n       [0.]])\n");

static PyObject *py_embedding_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dout", "idx", "num_embeddings", NULL};
    PyObject *od, *oidx, *onum, *res = NULL;
    PyArrayObject *dout, *idx, *dt;
    long long V;
    Call c;
    call_init(&c, "embedding_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&od, &oidx, &onum})) return NULL;
    FArg fa[] = {{"dout", od, &dout, 0}};
    if (floats(&c, fa, 1) || !(idx = ints(&c, "idx", oidx)) || get_int(&c, "num_embeddings", onum, &V)) goto done;
    if (V < 0) {
        PyErr_Format(PyExc_ValueError, "embedding_backward: num_embeddings must be >= 0, got %lld", V);
        goto done;
    }
    int nd = PyArray_NDIM(idx);
    if (PyArray_NDIM(dout) != nd + 1 ||
        (nd && memcmp(PyArray_DIMS(dout), PyArray_DIMS(idx), (size_t)nd * sizeof(npy_intp)) != 0)) {
        char s[160];
        char pat[200];
        snprintf(pat, sizeof pat, "idx.shape + (E,) with idx.shape = %s", fmt_shape(idx, s, sizeof s));
        shape_error(&c, "dout", dout, pat, NULL);
        goto done;
    }
    if (in_range(&c, "idx", idx, (npy_intp)V, "num_embeddings")) goto done;
    npy_intp dd[2] = {(npy_intp)V, PyArray_DIM(dout, nd)};
    if (!(dt = new_out(&c, 2, dd, c.type))) goto done;
    size_t n = SIZE(idx), E = (size_t)dd[1];
    RUN(1.0 * n * E, KERNEL(&c, embedding_backward, P(dt), P(dout), P(idx), n, (size_t)V, E));
    res = ret(dt);
done:
    call_done(&c);
    return res;
}

/* ------------------------------------------------------------------- batchnorm */

/* x (N, C); the per-channel vectors (C,); N > correction */
static int bn_shapes(Call *c, PyArrayObject *x, const char *const names[], PyArrayObject *const vecs[], int nvec,
                     long long correction, int need_rows)
{
    npy_intp xd[2] = {-1, -1};
    if (expect(c, "x", x, 2, xd, "(N, C)", NULL)) return -1;
    npy_intp C = PyArray_DIM(x, 1);
    for (int i = 0; i < nvec; i++)
        if (expect(c, names[i], vecs[i], 1, &C, "(C,)", " with C = x.shape[1] = %zd", (Py_ssize_t)C)) return -1;
    if (correction < 0) {
        PyErr_Format(PyExc_ValueError, "%s: correction must be >= 0, got %lld", c->fn, correction);
        return -1;
    }
    if (need_rows && PyArray_DIM(x, 0) <= correction) {
        char s[160];
        PyErr_Format(PyExc_ValueError,
                     "%s: the batch variance with correction=%lld needs more than %lld row(s), but x has shape %s",
                     c->fn, correction, correction, fmt_shape(x, s, sizeof s));
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(batchnorm_forward_doc,
"batchnorm_forward(x, gamma, beta, eps=1e-5, correction=0)\n--\n\n"
"Batch normalisation with batch statistics (training mode), per channel:\n"
"mean = x.mean(0), var = sum((x - mean)**2) / (N - correction),\n"
"y = gamma * (x - mean) / sqrt(var + eps) + beta.\n"
"correction=0 is PyTorch's training-mode normalisation; correction=1 is Bessel's n-1\n"
"(makemore part 4).  N must exceed correction.\n\n"
"x: (N, C); gamma, beta: (C,).  Returns (y (N, C), mean (C,), invstd (C,)) with\n"
"invstd = 1 / sqrt(var + eps), all in the dtype of x (float32 or float64).\n\n"
">>> import tinynet as tn\n>>> y, mean, invstd = tn.batchnorm_forward([[1.0], [3.0]], [1.0], [0.0])\n"
">>> y.round(4).ravel(), mean\n(array([-1.,  1.]), array([2.]))\n");

static PyObject *py_batchnorm_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "gamma", "beta", "eps", "correction", NULL};
    PyObject *ox, *og, *ob, *oeps = NULL, *ocorr = NULL, *res = NULL;
    PyArrayObject *x, *g, *b, *y, *mean, *invstd;
    double eps = 1e-5;
    long long corr = 0;
    Call c;
    call_init(&c, "batchnorm_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&ox, &og, &ob, &oeps, &ocorr}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0}, {"gamma", og, &g, 0}, {"beta", ob, &b, 0}};
    const char *names[] = {"gamma", "beta"};
    if ((oeps && get_double(&c, "eps", oeps, &eps)) || (ocorr && get_int(&c, "correction", ocorr, &corr)) ||
        floats(&c, fa, 3))
        goto done;
    PyArrayObject *vecs[] = {g, b};
    if (bn_shapes(&c, x, names, vecs, 2, corr, 1)) goto done;
    npy_intp C = PyArray_DIM(x, 1);
    if (!(y = new_out(&c, 2, PyArray_DIMS(x), c.type)) || !(mean = new_out(&c, 1, &C, c.type)) ||
        !(invstd = new_out(&c, 1, &C, c.type)))
        goto done;
    size_t N = DIM(x, 0);
    if (C) /* (N > correction >= 0) */
        RUN(8.0 * N * C, KERNEL(&c, batchnorm_forward, P(y), P(mean), P(invstd), P(x), P(g), P(b), N, (size_t)C, eps,
                                (size_t)corr));
    res = Py_BuildValue("OOO", y, mean, invstd);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(batchnorm_backward_doc,
"batchnorm_backward(dy, x, gamma, mean, invstd, correction=0)\n--\n\n"
"Gradients of batchnorm_forward (same correction) from dy = dL/dy:\n"
"dx = invstd * (g - mean(g) - xhat * sum(g * xhat) / (N - correction)) with g = dy * gamma,\n"
"xhat = (x - mean) * invstd; dgamma = sum(dy * xhat); dbeta = sum(dy).\n\n"
"dy, x: (N, C); gamma, mean, invstd: (C,).  Returns (dx (N, C), dgamma (C,), dbeta (C,)),\n"
"float32 or float64 as the arguments.\n\n"
">>> import tinynet as tn\n>>> y, m, s = tn.batchnorm_forward([[1.0], [3.0]], [1.0], [0.0])\n"
">>> dx, dgamma, dbeta = tn.batchnorm_backward([[1.0], [1.0]], [[1.0], [3.0]], [1.0], m, s)\n"
">>> dbeta\narray([2.])\n");

static PyObject *py_batchnorm_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dy", "x", "gamma", "mean", "invstd", "correction", NULL};
    PyObject *ody, *ox, *og, *om, *oi, *ocorr = NULL, *res = NULL;
    PyArrayObject *dy, *x, *g, *m, *is, *dx, *dg, *db;
    long long corr = 0;
    Call c;
    call_init(&c, "batchnorm_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ody, &ox, &og, &om, &oi, &ocorr}))
        return NULL;
    FArg fa[] = {{"dy", ody, &dy, 0}, {"x", ox, &x, 0}, {"gamma", og, &g, 0}, {"mean", om, &m, 0}, {"invstd", oi, &is, 0}};
    const char *names[] = {"gamma", "mean", "invstd"};
    if ((ocorr && get_int(&c, "correction", ocorr, &corr)) || floats(&c, fa, 5)) goto done;
    PyArrayObject *vecs[] = {g, m, is};
    if (bn_shapes(&c, x, names, vecs, 3, corr, 1) || same_shape(&c, "dy", dy, "x", x)) goto done;
    npy_intp C = PyArray_DIM(x, 1);
    if (!(dx = new_out(&c, 2, PyArray_DIMS(x), c.type)) || !(dg = new_out(&c, 1, &C, c.type)) ||
        !(db = new_out(&c, 1, &C, c.type)))
        goto done;
    size_t N = DIM(x, 0);
    if (C) /* (N > correction >= 0) */
        RUN(12.0 * N * C, KERNEL(&c, batchnorm_backward, P(dx), P(dg), P(db), P(dy), P(x), P(g), P(m), P(is), N,
                                 (size_t)C, (size_t)corr));
    res = Py_BuildValue("OOO", dx, dg, db);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(batchnorm_inference_doc,
"batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5)\n--\n\n"
"Batch normalisation in eval mode, with running statistics:\n"
"y = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.\n\n"
"x: (N, C); gamma, beta, running_mean, running_var: (C,).  Returns y (N, C), in the\n"
"arguments' dtype (float32 or float64).\n\n"
">>> import tinynet as tn\n>>> tn.batchnorm_inference([[2.0]], [1.0], [0.0], [1.0], [1.0], eps=0.0)\narray([[1.]])\n");

static PyObject *py_batchnorm_inference(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "gamma", "beta", "running_mean", "running_var", "eps", NULL};
    PyObject *ox, *og, *ob, *orm, *orv, *oeps = NULL, *res = NULL;
    PyArrayObject *x, *g, *b, *rm, *rv, *y;
    double eps = 1e-5;
    Call c;
    call_init(&c, "batchnorm_inference");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ox, &og, &ob, &orm, &orv, &oeps}))
        return NULL;
    FArg fa[] = {{"x", ox, &x, 0},
                 {"gamma", og, &g, 0},
                 {"beta", ob, &b, 0},
                 {"running_mean", orm, &rm, 0},
                 {"running_var", orv, &rv, 0}};
    const char *names[] = {"gamma", "beta", "running_mean", "running_var"};
    if ((oeps && get_double(&c, "eps", oeps, &eps)) || floats(&c, fa, 5)) goto done;
    PyArrayObject *vecs[] = {g, b, rm, rv};
    if (bn_shapes(&c, x, names, vecs, 4, 0, 0) || !(y = new_out(&c, 2, PyArray_DIMS(x), c.type))) goto done;
    size_t N = DIM(x, 0), C = DIM(x, 1);
    if (SIZE(y)) RUN(6.0 * N * C, KERNEL(&c, batchnorm_inference, P(y), P(x), P(g), P(b), P(rm), P(rv), N, C, eps));
    res = ret(y);
done:
    call_done(&c);
    return res;
}

/* ========================================================================= RNN */

/* The sizes of one RNN call and the arrays that define them. */
typedef struct {
    int batched;             /* (T, B, ...) rather than (T, ...) */
    npy_intp T, B, D, H, V;  /* V: output classes (lm_loss, sample) */
    PyArrayObject *tokens;   /* int64 input, or NULL */
    PyArrayObject *x;        /* float input, or NULL */
    const char *in_name;     /* the input argument that sets T and B ... */
    PyArrayObject *in;       /* ... and its array */
    int bdim;                /* B is in_name.shape[bdim] when batched */
} RnnDims;

/* x float (T,B,D)/(T,D) or tokens int (T,B)/(T,): decides whether x is a float array (*xf
 * set, tokens NULL) or token ids; raw x is returned through *xraw for the float path. */
static int rnn_input_kind(Call *c, PyObject *ox, PyArrayObject **xraw, int *is_tokens)
{
    if (!(*xraw = raw_array(c, "x", ox))) return -1;
    *is_tokens = is_int_kind(*xraw);
    return 0;
}

/* W_xh (H, D), W_hh (H, H), optional b_h (H,); sets r->H, r->D. */
static int rnn_weight_shapes(Call *c, RnnDims *r, PyArrayObject *W_xh, PyArrayObject *W_hh, PyArrayObject *b_h)
{
    npy_intp hh[2] = {-1, -1};
    if (expect(c, "W_hh", W_hh, 2, hh, "(H, H)", NULL)) return -1;
    r->H = PyArray_DIM(W_hh, 0);
    if (PyArray_DIM(W_hh, 1) != r->H) return shape_error(c, "W_hh", W_hh, "(H, H)", NULL);
    npy_intp xh[2] = {r->H, -1};
    if (expect(c, "W_xh", W_xh, 2, xh, "(H, D)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    r->D = PyArray_DIM(W_xh, 1);
    if (b_h && expect(c, "b_h", b_h, 1, &r->H, "(H,)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    return 0;
}

/* The input sequence (tokens or floats) against D; sets batched, T, B. */
static int rnn_input_shapes(Call *c, RnnDims *r, const char *name)
{
    r->in_name = name;
    r->in = r->tokens ? r->tokens : r->x;
    r->bdim = 1;
    if (r->tokens) {
        int nd = PyArray_NDIM(r->tokens);
        if (nd != 1 && nd != 2) return shape_error(c, name, r->tokens, "(T, B) or (T,) token ids", NULL);
        r->batched = nd == 2;
        r->T = PyArray_DIM(r->tokens, 0);
        r->B = r->batched ? PyArray_DIM(r->tokens, 1) : 1;
        return in_range(c, name, r->tokens, r->D, "D = W_xh.shape[1]");
    }
    int nd = PyArray_NDIM(r->x);
    if ((nd != 2 && nd != 3) || PyArray_DIM(r->x, nd - 1) != r->D) {
        char where[96];
        snprintf(where, sizeof where, " with D = W_xh.shape[1] = %zd", (Py_ssize_t)r->D);
        return shape_error(c, name, r->x, "(T, B, D) or (T, D)", where);
    }
    r->batched = nd == 3;
    r->T = PyArray_DIM(r->x, 0);
    r->B = r->batched ? PyArray_DIM(r->x, 1) : 1;
    return 0;
}

/* An (H,) / (B, H) state like h0, matching the input's batching.  The message names
 * the input argument the sizes come from. */
static int rnn_state_shape(Call *c, RnnDims *r, const char *name, PyArrayObject *h)
{
    char s[160];
    npy_intp d[2] = {r->B, r->H};
    if (r->batched)
        return expect(c, name, h, 2, d, "(B, H)", " with B = %s.shape[%d] = %zd, H = W_hh.shape[0] = %zd", r->in_name,
                      r->bdim, (Py_ssize_t)r->B, (Py_ssize_t)r->H);
    if (fits(h, 1, d + 1)) return 0;
    return expect(c, name, h, 1, d + 1, "(H,)", " for unbatched %s of shape %s, with H = W_hh.shape[0] = %zd",
                  r->in_name, fmt_shape(r->in, s, sizeof s), (Py_ssize_t)r->H);
}

/* A (T, B, H) / (T, H) sequence of hidden states. */
static int rnn_seq_shape(Call *c, RnnDims *r, const char *name, PyArrayObject *h)
{
    char s[160];
    if (r->batched) {
        npy_intp d[3] = {r->T, r->B, r->H};
        return expect(c, name, h, 3, d, "(T, B, H)", " with T = %s.shape[0] = %zd, B = %s.shape[1] = %zd, H = W_hh.shape[0] = %zd",
                      r->in_name, (Py_ssize_t)r->T, r->in_name, (Py_ssize_t)r->B, (Py_ssize_t)r->H);
    }
    npy_intp u[2] = {r->T, r->H};
    if (fits(h, 2, u)) return 0;
    return expect(c, name, h, 2, u, "(T, H)", " for unbatched %s of shape %s, with T = %s.shape[0] = %zd, H = W_hh.shape[0] = %zd",
                  r->in_name, fmt_shape(r->in, s, sizeof s), r->in_name, (Py_ssize_t)r->T, (Py_ssize_t)r->H);
}

PyDoc_STRVAR(rnn_forward_doc,
"rnn_forward(x, h0, W_xh, W_hh, b_h)\n--\n\n"
"Vanilla tanh RNN over a time-major sequence:\n"
"h_t = tanh(W_xh @ x_t + W_hh @ h_{t-1} + b_h), h_{-1} = h0.\n\n"
"x: floats (T, B, D), or integer token ids (T, B) (one-hot implied, D = W_xh.shape[1]);\n"
"unbatched (T, D) / (T,) go with h0 (H,).  h0: (B, H) / (H,), or None for zeros.\n"
"W_xh: (H, D); W_hh: (H, H); b_h: (H,).  Returns hs: (T, B, H) or (T, H).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> H, V = 3, 4\n"
">>> hs = tn.rnn_forward([0, 1, 2], np.zeros(H), np.ones((H, V)), np.eye(H), np.zeros(H))\n"
">>> hs.shape\n(3, 3)\n");

static PyObject *py_rnn_forward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"x", "h0", "W_xh", "W_hh", "b_h", NULL};
    PyObject *ox, *oh0, *oWxh, *oWhh, *obh, *res = NULL;
    PyArrayObject *xraw, *h0, *Wxh, *Whh, *bh, *hs;
    RnnDims r = {0};
    int tok;
    Call c;
    call_init(&c, "rnn_forward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&ox, &oh0, &oWxh, &oWhh, &obh})) return NULL;
    if (rnn_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"x", tok ? NULL : ox, &r.x, 0},
                 {"h0", oh0, &h0, 1},
                 {"W_xh", oWxh, &Wxh, 0},
                 {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}};
    if (floats(&c, fa, 5)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_input_shapes(&c, &r, "x") ||
        (h0 && rnn_state_shape(&c, &r, "h0", h0)))
        goto done;
    npy_intp d[3] = {r.T, r.B, r.H}, u[2] = {r.T, r.H};
    if (!(hs = new_out(&c, r.batched ? 3 : 2, r.batched ? d : u, c.type))) goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_rnn_forward_work(T, B, D, H));
    if (!work) goto done;
    RUN(2.0 * T * B * H * (H + (tok ? 1 : D)), KERNEL(&c, rnn_forward, P(hs), P(r.x), P(r.tokens), P(h0), P(Wxh),
                                                      P(Whh), P(bh), T, B, D, H, work));
    res = ret(hs);
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(rnn_backward_doc,
"rnn_backward(dhs, x, h0, hs, W_xh, W_hh, bptt_steps=None)\n--\n\n"
"Backpropagation through time for rnn_forward, given dhs = dL/dhs (shaped like hs).\n\n"
"bptt_steps=None is full BPTT; bptt_steps=k lets the gradient of the loss at step t\n"
"reach steps t, t-1, ..., t-k+1 only (and through them x, h0 and the weights);\n"
"bptt_steps=1 is the per-step gradient of seed notebook 000.\n"
"dhs, hs: (T, B, H) or (T, H); x, h0, W_xh, W_hh as for rnn_forward.\n"
"Returns (dx, dh0, dW_xh, dW_hh, db_h), each shaped like its input and in the float\n"
"arguments' dtype; dx is None for token input; dh0 is returned (shaped like h0) even\n"
"when h0 is None.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> W_xh, W_hh, b = np.ones((3, 4)) * 0.1, np.eye(3) * 0.5, np.zeros(3)\n"
">>> hs = tn.rnn_forward([0, 1], None, W_xh, W_hh, b)\n"
">>> dx, dh0, dW_xh, dW_hh, db_h = tn.rnn_backward(np.ones_like(hs), [0, 1], None, hs, W_xh, W_hh)\n"
">>> dx is None, dW_xh.shape\n(True, (3, 4))\n");

static PyObject *py_rnn_backward(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"dhs", "x", "h0", "hs", "W_xh", "W_hh", "bptt_steps", NULL};
    PyObject *odhs, *ox, *oh0, *ohs, *oWxh, *oWhh, *ok = Py_None, *res = NULL;
    PyArrayObject *xraw, *dhs, *h0, *hs, *Wxh, *Whh, *dx = NULL, *dh0, *dWxh, *dWhh, *dbh;
    RnnDims r = {0};
    size_t k;
    int tok;
    Call c;
    call_init(&c, "rnn_backward");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 6, (PyObject **[]){&odhs, &ox, &oh0, &ohs, &oWxh, &oWhh, &ok}))
        return NULL;
    if (get_bptt(&c, ok, &k) || rnn_input_kind(&c, ox, &xraw, &tok)) goto done;
    FArg fa[] = {{"dhs", odhs, &dhs, 0}, {"x", tok ? NULL : ox, &r.x, 0}, {"h0", oh0, &h0, 1},
                 {"hs", ohs, &hs, 0},    {"W_xh", oWxh, &Wxh, 0},         {"W_hh", oWhh, &Whh, 0}};
    if (floats(&c, fa, 6)) goto done;
    if (tok && !(r.tokens = ints_from_raw(&c, "x", ox, xraw))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, NULL) || rnn_input_shapes(&c, &r, "x") ||
        (h0 && rnn_state_shape(&c, &r, "h0", h0)) || rnn_seq_shape(&c, &r, "hs", hs) ||
        rnn_seq_shape(&c, &r, "dhs", dhs))
        goto done;
    npy_intp sd[2] = {r.B, r.H}, xw[2] = {r.H, r.D}, hw[2] = {r.H, r.H};
    if ((r.x && !(dx = new_out(&c, PyArray_NDIM(r.x), PyArray_DIMS(r.x), c.type))) ||
        !(dh0 = new_out(&c, r.batched ? 2 : 1, r.batched ? sd : sd + 1, c.type)) ||
        !(dWxh = new_out(&c, 2, xw, c.type)) || !(dWhh = new_out(&c, 2, hw, c.type)) ||
        !(dbh = new_out(&c, 1, &r.H, c.type)))
        goto done;
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H;
    void *work = workspace(&c, tn_rnn_backward_work(T, B, D, H, k));
    if (!work) goto done;
    double reach = k ? (double)k : 1.0;
    RUN(2.0 * T * B * H * (H * reach + 2.0 * D + H), KERNEL(&c, rnn_backward, P(dx), P(dh0), P(dWxh), P(dWhh), P(dbh),
                                                            P(dhs), P(r.x), P(r.tokens), P(h0), P(hs), P(Wxh), P(Whh),
                                                            T, B, D, H, k, work));
    res = Py_BuildValue("OOOOO", dx ? (PyObject *)dx : Py_None, dh0, dWxh, dWhh, dbh);
done:
    call_done(&c);
    return res;
}

/* The output layer W_hy (V, H), b_y (V,) against H; sets r->V. */
static int rnn_output_shapes(Call *c, RnnDims *r, PyArrayObject *W_hy, PyArrayObject *b_y)
{
    npy_intp yd[2] = {-1, r->H};
    if (expect(c, "W_hy", W_hy, 2, yd, "(V, H)", " with H = W_hh.shape[0] = %zd", (Py_ssize_t)r->H)) return -1;
    r->V = PyArray_DIM(W_hy, 0);
    return expect(c, "b_y", b_y, 1, &r->V, "(V,)", " with V = W_hy.shape[0] = %zd", (Py_ssize_t)r->V);
}

PyDoc_STRVAR(rnn_lm_loss_doc,
"rnn_lm_loss(inputs, targets, h0, W_xh, W_hh, b_h, W_hy, b_y, bptt_steps=None, reduction=\"sum\")\n--\n\n"
"min-char-rnn's lossFun in one call: the RNN over token ids, logits = W_hy h_t + b_y,\n"
"softmax cross-entropy against the targets, and backpropagation through time.\n\n"
"inputs: integer ids (T,) or (T, B) in [0, W_xh.shape[1]); targets: same shape, in\n"
"[0, V) with V = W_hy.shape[0]; h0: (H,) / (B, H) or None for zeros; W_xh (H, D),\n"
"W_hh (H, H), b_h (H,), W_hy (V, H), b_y (V,).  reduction=\"sum\" adds the T*B losses\n"
"(min-char-rnn), \"mean\" averages them (and the gradients).\n"
"Returns (loss, grads, h_last): loss a float, grads a dict with keys \"W_xh\", \"W_hh\",\n"
"\"b_h\", \"W_hy\", \"b_y\", h_last the last hidden state (H,) / (B, H).\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> rng = np.random.default_rng(0); V, H = 4, 3\n"
">>> W_xh, W_hh, W_hy = (rng.standard_normal(s) * 0.1 for s in [(H, V), (H, H), (V, H)])\n"
">>> loss, grads, h = tn.rnn_lm_loss([1, 0, 2, 2], [0, 2, 2, 3], None, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V))\n"
">>> sorted(grads), h.shape\n(['W_hh', 'W_hy', 'W_xh', 'b_h', 'b_y'], (3,))\n");

/* The keys of rnn_lm_loss's gradient dict, interned once at import. */
static PyObject *grad_keys[5];
static const char *const grad_names[5] = {"W_xh", "W_hh", "b_h", "W_hy", "b_y"};

static PyObject *py_rnn_lm_loss(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"inputs", "targets", "h0", "W_xh", "W_hh", "b_h", "W_hy", "b_y", "bptt_steps", "reduction",
                             NULL};
    PyObject *oin, *otg, *oh0, *oWxh, *oWhh, *obh, *oWhy, *oby, *ok = Py_None, *ored = NULL, *res = NULL;
    PyArrayObject *tg, *h0, *Wxh, *Whh, *bh, *Why, *by, *g[5], *hl;
    RnnDims r = {0};
    size_t k;
    int mean = 0;
    Call c;
    call_init(&c, "rnn_lm_loss");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8, (PyObject **[]){&oin, &otg, &oh0, &oWxh, &oWhh, &obh, &oWhy, &oby, &ok, &ored}))
        return NULL;
    if (get_bptt(&c, ok, &k) || (ored && get_reduction(&c, ored, &mean))) goto done;
    FArg fa[] = {{"h0", oh0, &h0, 1},  {"W_xh", oWxh, &Wxh, 0}, {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}, {"W_hy", oWhy, &Why, 0}, {"b_y", oby, &by, 0}};
    if (floats(&c, fa, 6) || !(r.tokens = ints(&c, "inputs", oin)) || !(tg = ints(&c, "targets", otg))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_output_shapes(&c, &r, Why, by) ||
        rnn_input_shapes(&c, &r, "inputs") || same_shape(&c, "targets", tg, "inputs", r.tokens) ||
        in_range(&c, "targets", tg, r.V, "V = W_hy.shape[0]") || (h0 && rnn_state_shape(&c, &r, "h0", h0)))
        goto done;
    npy_intp xw[2] = {r.H, r.D}, hw[2] = {r.H, r.H}, yw[2] = {r.V, r.H}, sd[2] = {r.B, r.H};
    PyArrayObject *outs[6];
    if (new_outs(&c, 6, (int[]){2, 2, 1, 2, 1, r.batched ? 2 : 1}, (npy_intp *[]){xw, hw, &r.H, yw, &r.V, r.batched ? sd : sd + 1}, outs))
        goto done;
    for (int i = 0; i < 5; i++) g[i] = outs[i];
    hl = outs[5];
    size_t T = (size_t)r.T, B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H, V = (size_t)r.V;
    void *work = workspace(&c, tn_rnn_lm_loss_work(T, B, D, H, V, k));
    if (!work) goto done;
    double loss = 0, reach = k ? (double)k : 1.0;
    RUN(2.0 * T * B * H * (H * (1.0 + reach) + 3.0 * V),
        loss = KERNEL(&c, rnn_lm_loss, P(g[0]), P(g[1]), P(g[2]), P(g[3]), P(g[4]), P(hl), P(r.tokens), P(tg), P(h0),
                      P(Wxh), P(Whh), P(bh), P(Why), P(by), T, B, D, H, V, k, mean, work));
    PyObject *grads = PyDict_New(), *lossobj = PyFloat_FromDouble(loss);
    int built = grads && lossobj;
    for (int i = 0; built && i < 5; i++) built = PyDict_SetItem(grads, grad_keys[i], (PyObject *)g[i]) == 0;
    if (built) res = PyTuple_Pack(3, lossobj, grads, hl);
    Py_XDECREF(grads);
    Py_XDECREF(lossobj);
done:
    call_done(&c);
    return res;
}

/* A fresh seed from the operating system, through os.urandom. */
static int os_seed(uint64_t *seed)
{
    PyObject *os = PyImport_ImportModule("os");
    if (!os) return -1;
    PyObject *b = PyObject_CallMethod(os, "urandom", "i", 8);
    Py_DECREF(os);
    if (!b) return -1;
    if (!PyBytes_Check(b) || PyBytes_GET_SIZE(b) != 8) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_RuntimeError, "rnn_sample: os.urandom did not return 8 bytes");
        return -1;
    }
    memcpy(seed, PyBytes_AS_STRING(b), 8);
    Py_DECREF(b);
    return 0;
}

PyDoc_STRVAR(rnn_sample_doc,
"rnn_sample(h0, token, n, W_xh, W_hh, b_h, W_hy, b_y, temperature=1.0, greedy=False, seed=None)\n--\n\n"
"Generate n tokens autoregressively from a start token (not included in the output):\n"
"h = tanh(W_xh[:, tok] + W_hh @ h + b_h), p = softmax((W_hy @ h + b_y) / temperature),\n"
"then the next token is argmax(p) (greedy=True, seed notebook 001's predict) or a draw\n"
"from p.  Draws use tinynet's own generator (splitmix64, shared with tinynet.reference),\n"
"so the same seed gives the same tokens in both engines; seed=None seeds from the OS.\n\n"
"h0: (H,) with token an int -> tokens (n,); or h0 (B, H) with token (B,) -> (n, B).\n"
"h0 None means zeros (batched when token is an array).  temperature must be > 0.\n"
"Returns an int64 array.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> V, H = 4, 3\n"
">>> W_xh, W_hh, W_hy = np.eye(H, V), np.eye(H) * 0.5, np.eye(V, H)\n"
">>> tn.rnn_sample(None, 0, 5, W_xh, W_hh, np.zeros(H), W_hy, np.zeros(V), seed=1).shape\n(5,)\n");

static PyObject *py_rnn_sample(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"h0",  "token", "n",           "W_xh",   "W_hh", "b_h", "W_hy",
                             "b_y", "temperature", "greedy", "seed", NULL};
    PyObject *oh0, *otok, *on, *oWxh, *oWhh, *obh, *oWhy, *oby, *otemp = NULL, *ogreedy = Py_False, *oseed = Py_None,
                                                                 *res = NULL;
    PyArrayObject *h0, *tok, *Wxh, *Whh, *bh, *Why, *by, *out;
    RnnDims r = {0};
    long long n;
    double temp = 1.0;
    uint64_t rng = 0;
    int greedy;
    Call c;
    call_init(&c, "rnn_sample");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 8, (PyObject **[]){&oh0, &otok, &on, &oWxh, &oWhh, &obh, &oWhy, &oby, &otemp, &ogreedy, &oseed}))
        return NULL;
    if (get_int(&c, "n", on, &n) || (otemp && get_double(&c, "temperature", otemp, &temp))) goto done;
    if (n < 0) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: n must be >= 0, got %lld", n);
        goto done;
    }
    if (!(temp > 0)) {
        PyErr_Format(PyExc_ValueError, "rnn_sample: temperature must be > 0, got %R", otemp);
        goto done;
    }
    if ((greedy = PyObject_IsTrue(ogreedy)) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyErr_GivenExceptionMatches(type, PyExc_ValueError) || PyErr_GivenExceptionMatches(type, PyExc_TypeError)) {
            PyErr_Format(type, "rnn_sample: greedy must be true or false: %S", value ? value : Py_None);
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        } else {
            PyErr_Restore(type, value, tb);
        }
        goto done;
    }
    if (oseed == Py_None) {
        if (os_seed(&rng)) goto done;
    } else {
        PyObject *i = PyNumber_Index(oseed);
        if (!i) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "rnn_sample: seed must be None or an integer, not %s", short_type(oseed));
            goto done;
        }
        rng = (uint64_t)PyLong_AsUnsignedLongLongMask(i); /* seed mod 2**64, as the reference */
        Py_DECREF(i);
        if (PyErr_Occurred()) goto done;
    }
    FArg fa[] = {{"h0", oh0, &h0, 1},  {"W_xh", oWxh, &Wxh, 0}, {"W_hh", oWhh, &Whh, 0},
                 {"b_h", obh, &bh, 0}, {"W_hy", oWhy, &Why, 0}, {"b_y", oby, &by, 0}};
    if (floats(&c, fa, 6) || !(tok = ints(&c, "token", otok))) goto done;
    if (rnn_weight_shapes(&c, &r, Wxh, Whh, bh) || rnn_output_shapes(&c, &r, Why, by)) goto done;
    if (PyArray_NDIM(tok) > 1) {
        shape_error(&c, "token", tok, "() for one sequence or (B,) for a batch", NULL);
        goto done;
    }
    r.batched = PyArray_NDIM(tok) == 1;
    r.B = r.batched ? PyArray_DIM(tok, 0) : 1;
    r.in_name = "token";
    r.in = tok;
    r.bdim = 0;
    if ((h0 && rnn_state_shape(&c, &r, "h0", h0)) || in_range(&c, "token", tok, r.D, "D = W_xh.shape[1]")) goto done;
    if (r.V > r.D) {
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: sampled tokens are fed back as inputs, so V = W_hy.shape[0] = %zd must not exceed "
                     "D = W_xh.shape[1] = %zd",
                     (Py_ssize_t)r.V, (Py_ssize_t)r.D);
        goto done;
    }
    if (r.V == 0 && n > 0) {
        char s[160];
        PyErr_Format(PyExc_ValueError,
                     "rnn_sample: W_hy has shape %s: with V = W_hy.shape[0] = 0 there is no token to sample (n = %lld)",
                     fmt_shape(Why, s, sizeof s), n);
        goto done;
    }
    npy_intp od[2] = {(npy_intp)n, r.B};
    if (!(out = new_out(&c, r.batched ? 2 : 1, od, NPY_INT64))) goto done;
    size_t B = (size_t)r.B, D = (size_t)r.D, H = (size_t)r.H, V = (size_t)r.V;
    void *work = workspace(&c, tn_rnn_sample_work(B, D, H, V));
    if (!work) goto done;
    RUN(2.0 * (double)n * B * H * (H + V), KERNEL(&c, rnn_sample, P(out), P(h0), P(tok), (size_t)n, P(Wxh), P(Whh),
                                                  P(bh), P(Why), P(by), B, D, H, V, temp, greedy, &rng, work));
    res = ret(out);
done:
    call_done(&c);
    return res;
}

/* ================================================================= optimizers */

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

/* The in-place arrays (state[0] is the parameter) share its shape and no memory with
 * each other; grad, read-only, is converted to the call's dtype and copied if it
 * overlaps any of them (an exact alias of param alone is fine elementwise). */
static int optimizer_args(Call *c, PyObject *ograd, PyArrayObject **grad, const char *const names[],
                          PyArrayObject *const state[], int nstate)
{
    for (int i = 1; i < nstate; i++) {
        if (same_shape(c, names[i], state[i], names[0], state[0])) return -1;
        for (int j = 0; j < i; j++)
            if (overlaps(state[i], state[j])) {
                PyErr_Format(PyExc_ValueError, "%s: %s and %s share memory; they must be separate arrays", c->fn,
                             names[i], names[j]);
                return -1;
            }
    }
    FArg fa[] = {{"grad", ograd, grad, 0}};
    if (floats(c, fa, 1) || same_shape(c, "grad", *grad, names[0], state[0])) return -1;
    for (int i = 0; i < nstate; i++) {
        if (!overlaps(*grad, state[i])) continue;
        if (i == 0 && nstate == 1 && PyArray_DATA(*grad) == PyArray_DATA(state[0])) continue;
        if (!(*grad = (PyArrayObject *)keep(c, PyArray_NewCopy(*grad, NPY_CORDER)))) return -1;
        break;
    }
    return 0;
}

PyDoc_STRVAR(sgd_step__doc,
"sgd_step_(param, grad, lr)\n--\n\n"
"In place: param -= lr * grad.  Returns None.\n\n"
"param: a writeable, C-contiguous float32/float64 ndarray (it is modified); grad: the\n"
"same shape (any array-like).\n\n"
">>> import numpy as np, tinynet as tn\n>>> p = np.ones(2); tn.sgd_step_(p, [1.0, 2.0], 0.5); p\narray([0.5, 0. ])\n");

static PyObject *py_sgd_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "lr", NULL};
    PyObject *op, *og, *olr, *res = NULL;
    PyArrayObject *p, *g;
    double lr;
    Call c;
    call_init(&c, "sgd_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&op, &og, &olr})) return NULL;
    const char *names[] = {"param"};
    if (!(p = inplace(&c, "param", op)) || optimizer_args(&c, og, &g, names, &p, 1) || get_double(&c, "lr", olr, &lr))
        goto done;
    size_t n = SIZE(p);
    RUN(2.0 * n, KERNEL(&c, sgd_step, P(p), P(g), n, lr));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(adagrad_step__doc,
"adagrad_step_(param, grad, mem, lr, eps=1e-8)\n--\n\n"
"In place, min-char-rnn's Adagrad: mem += grad**2; param -= lr * grad / sqrt(mem + eps).\n"
"param and mem are writeable, C-contiguous ndarrays of one shape and dtype (both are\n"
"modified).  Returns None.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> p, mem = np.ones(1), np.zeros(1); tn.adagrad_step_(p, [2.0], mem, 0.1); mem\narray([4.])\n");

static PyObject *py_adagrad_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "mem", "lr", "eps", NULL};
    PyObject *op, *og, *om, *olr, *oeps = NULL, *res = NULL;
    PyArrayObject *st[2], *g;
    double lr, eps = 1e-8;
    Call c;
    call_init(&c, "adagrad_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 4, (PyObject **[]){&op, &og, &om, &olr, &oeps})) return NULL;
    const char *names[] = {"param", "mem"};
    if (!(st[0] = inplace(&c, "param", op)) || !(st[1] = inplace(&c, "mem", om)) ||
        optimizer_args(&c, og, &g, names, st, 2) || get_double(&c, "lr", olr, &lr) ||
        (oeps && get_double(&c, "eps", oeps, &eps)))
        goto done;
    size_t n = SIZE(st[0]);
    RUN(8.0 * n, KERNEL(&c, adagrad_step, P(st[0]), P(g), P(st[1]), n, lr, eps));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(adam_step__doc,
"adam_step_(param, grad, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)\n--\n\n"
"In place, AdamW exactly as torch.optim.AdamW (t counts steps from 1):\n"
"param *= 1 - lr * weight_decay; m = lerp(m, grad, 1 - beta1);\n"
"v = beta2 * v + (1 - beta2) * grad**2;\n"
"param -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps).\n"
"param, m, v: writeable C-contiguous ndarrays of one shape and dtype (all modified).\n"
"Returns None.\n\n"
">>> import numpy as np, tinynet as tn\n"
">>> p, m, v = np.ones(1), np.zeros(1), np.zeros(1)\n"
">>> tn.adam_step_(p, [1.0], m, v, 1, lr=0.1); p.round(6)\narray([0.9])\n");

static int check_beta(Call *c, const char *name, double v)
{
    if (v >= 0 && v < 1) return 0;
    char buf[64];
    PyErr_Format(PyExc_ValueError, "%s: %s must be in [0, 1), got %s", c->fn, name, fmt_double(v, buf, sizeof buf));
    return -1;
}

static PyObject *py_adam_step_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"param", "grad", "m", "v", "t", "lr", "beta1", "beta2", "eps", "weight_decay", NULL};
    PyObject *op, *og, *om, *ov, *ot, *olr = NULL, *ob1 = NULL, *ob2 = NULL, *oeps = NULL, *owd = NULL, *res = NULL;
    PyArrayObject *st[3], *g;
    double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.0;
    long long t;
    Call c;
    call_init(&c, "adam_step_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 5, (PyObject **[]){&op, &og, &om, &ov, &ot, &olr, &ob1, &ob2, &oeps, &owd}))
        return NULL;
    const char *names[] = {"param", "m", "v"};
    if (!(st[0] = inplace(&c, "param", op)) || !(st[1] = inplace(&c, "m", om)) || !(st[2] = inplace(&c, "v", ov)) ||
        optimizer_args(&c, og, &g, names, st, 3) || get_int(&c, "t", ot, &t) ||
        (olr && get_double(&c, "lr", olr, &lr)) || (ob1 && get_double(&c, "beta1", ob1, &b1)) ||
        (ob2 && get_double(&c, "beta2", ob2, &b2)) || (oeps && get_double(&c, "eps", oeps, &eps)) ||
        (owd && get_double(&c, "weight_decay", owd, &wd)))
        goto done;
    if (t < 1) {
        PyErr_Format(PyExc_ValueError, "adam_step_: t counts steps from 1, got %lld", t);
        goto done;
    }
    if (!(lr >= 0) || !(eps >= 0) || !(wd >= 0)) {
        char s1[64], s2[64], s3[64];
        PyErr_Format(PyExc_ValueError,
                     "adam_step_: lr, eps and weight_decay must be >= 0, got lr=%s, eps=%s, weight_decay=%s",
                     fmt_double(lr, s1, sizeof s1), fmt_double(eps, s2, sizeof s2), fmt_double(wd, s3, sizeof s3));
        goto done;
    }
    if (check_beta(&c, "beta1", b1) || check_beta(&c, "beta2", b2)) goto done;
    size_t n = SIZE(st[0]);
    RUN(12.0 * n, KERNEL(&c, adam_step, P(st[0]), P(g), P(st[1]), P(st[2]), n, (int64_t)t, lr, b1, b2, eps, wd));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

PyDoc_STRVAR(clip__doc,
"clip_(grad, lo, hi)\n--\n\n"
"In place: grad = min(max(grad, lo), hi) (NaN stays NaN); min-char-rnn clips to [-5, 5].\n"
"grad: a writeable, C-contiguous float32/float64 ndarray; lo <= hi.  Returns None.\n\n"
">>> import numpy as np, tinynet as tn\n>>> g = np.array([-9.0, 0.5, 9.0]); tn.clip_(g, -5, 5); g\narray([-5. ,  0.5,  5. ])\n");

static PyObject *py_clip_(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    (void)self;
    static const char *const kwlist[] = {"grad", "lo", "hi", NULL};
    PyObject *og, *olo, *ohi, *res = NULL;
    PyArrayObject *g;
    double lo, hi;
    Call c;
    call_init(&c, "clip_");
    if (parse(c.fn, args, nargs, kwnames, kwlist, 3, (PyObject **[]){&og, &olo, &ohi})) return NULL;
    if (!(g = inplace(&c, "grad", og)) || get_double(&c, "lo", olo, &lo) || get_double(&c, "hi", ohi, &hi)) goto done;
    if (!(lo <= hi)) {
        PyErr_Format(PyExc_ValueError, "clip_: need lo <= hi, got lo=%R, hi=%R", olo, ohi);
        goto done;
    }
    size_t n = SIZE(g);
    RUN(2.0 * n, KERNEL(&c, clip, P(g), n, lo, hi));
    Py_INCREF(Py_None);
    res = Py_None;
done:
    call_done(&c);
    return res;
}

/* ====================================================================== module */

PyDoc_STRVAR(set_num_threads_doc,
"set_num_threads(n)\n--\n\n"
"Threads the C engine may use for its large kernels (n <= 0: one per core).  Results\n"
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
"set_num_threads; by default one per core.\n\n"
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

#define KW(name) {#name, (PyCFunction)(void (*)(void))py_##name, METH_FASTCALL | METH_KEYWORDS, name##_doc}

static PyMethodDef methods[] = {
    KW(linear_forward),
    KW(linear_backward),
    KW(tanh_forward),
    KW(tanh_backward),
    KW(sigmoid_forward),
    KW(sigmoid_backward),
    KW(relu_forward),
    KW(relu_backward),
    KW(softmax),
    KW(cross_entropy_forward),
    KW(cross_entropy_backward),
    KW(embedding_forward),
    KW(embedding_backward),
    KW(batchnorm_forward),
    KW(batchnorm_backward),
    KW(batchnorm_inference),
    KW(rnn_forward),
    KW(rnn_backward),
    KW(rnn_lm_loss),
    KW(rnn_sample),
    KW(sgd_step_),
    KW(adagrad_step_),
    KW(adam_step_),
    KW(clip_),
    {"set_num_threads", (PyCFunction)py_set_num_threads, METH_O, set_num_threads_doc},
    {"get_num_threads", (PyCFunction)py_get_num_threads, METH_NOARGS, get_num_threads_doc},
    {"_fma_peak", (PyCFunction)py_fma_peak, METH_VARARGS, "_fma_peak(double, iters) -> (flops, seconds)"},
    {NULL, NULL, 0, NULL},
};

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
    if (PyModule_AddStringConstant(m, "simd", tn_simd_name()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
