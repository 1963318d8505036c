/* The token summary pass in C: one call per step file reads it, counts it and reduces it to the
per-split statistics (phasewatch/tokens/fused.py drives it; it says why it exists).

tables(itemsize, divergent_p, mastered_p, learned_p, nll_cap) -> bytes
    Per-key values of the 16-bit keys of a store of that item size (2: float16, the key is the
    bit pattern; 4 and 8: the top 16 bits of the float32, valued at the middle of its interval):
    log p, p, phi = p(1-p), binary entropy, capped divergent NLL, and the key thresholds. Opaque
    to Python: it is handed back to `step`.

step(tables, path, data_offset, n_tokens, run_ends, run_slots, seen, ranks, threads, window
     [, flush_tokens])
        -> (n_invalid, [per slot: (n, n_zero, sum_logp, sum_sq, sum_phi, sum_entropy,
                                  sum_div_nll, n_divergent, n_mastered, newly, (p, ...))])
    run_ends  int64 buffer: ascending ends of the runs of tokens sharing a slot (run 0 starts
              at token 0), the last one n_tokens;  run_slots  uint8 buffer, one slot per run;
    seen      None, or a writable buffer of ceil(n_tokens / 64) 64-bit words: the learned-at
              state, bit t % 64 of word t / 64 set where token t has p > learned_p; `newly`
              counts the tokens this call set;
    ranks     one tuple per slot of order statistics (0-based, smallest first) whose p to return.
    The file is read with pread into a buffer per thread (a window of tokens, rounded up to a
    multiple of 64, that stays in cache while it is counted); `threads` threads take the windows
    in turn and count them into 32-bit histograms of their own, merged into 64-bit totals
    (`_count_pass.c`). The GIL is released throughout. A short read raises
    EOFError, a failing one OSError. A thread merges its 32-bit counts every flush_tokens tokens
    (default 2**32 - 1, before they could wrap; tests lower it). n_invalid counts NaN, infinite
    and positive values (keys of their own); the caller locates them.

Plain C with the buffer protocol and pthreads: no NumPy C API, nothing to match at build time.
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "_count.h"

static double key_value(int64_t itemsize, uint32_t key) {
    if (itemsize == 2) {
        const int sign = key >> 15, exponent = (key >> 10) & 0x1F, mantissa = key & 0x3FF;
        double v = exponent == 0 ? ldexp(mantissa, -24)
                 : exponent == 31 ? (mantissa ? NAN : INFINITY)
                 : ldexp(mantissa | 0x400, exponent - 25);
        return sign ? -v : v;
    }
    if (key == 0 || key == NEGATIVE) return key ? -0.0 : 0.0;
    uint32_t bits = (key << 16) | 0x8000;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static PyObject *tables(PyObject *self, PyObject *args) {
    long long itemsize;
    double divergent_p, mastered_p, learned_p, nll_cap;
    if (!PyArg_ParseTuple(args, "Ldddd", &itemsize, &divergent_p, &mastered_p, &learned_p, &nll_cap))
        return NULL;
    if (itemsize != 2 && itemsize != 4 && itemsize != 8) {
        PyErr_SetString(PyExc_ValueError, "tables: itemsize must be 2, 4 or 8");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, sizeof(Tables));
    if (out == NULL) return NULL;
    Tables *t = (Tables *)PyBytes_AS_STRING(out);
    memset(t, 0, sizeof(Tables));
    t->itemsize = itemsize;
    t->limit = itemsize == 2 ? 0xFC00 : 0xFF80;
    t->threshold = log(learned_p);
    t->learn_key = t->limit;
    int64_t n_div_free = 0, n_mastered = 0;
    for (int64_t key = NEGATIVE; key < t->limit; key++) {
        /* The same float64 operations as the numpy histogram tables (stats_numpy.py). */
        const double logp = key_value(itemsize, (uint32_t)key), p = exp(logp), q = -expm1(logp);
        t->logp[key] = logp;
        t->p[key] = p;
        t->phi[key] = p * q;
        t->entropy[key] = -p * logp - (q > 0 ? q * log(q) : 0.0);
        t->div_nll[key] = -logp < nll_cap ? -logp : nll_cap;
        n_div_free += p >= divergent_p;
        n_mastered += p > mastered_p;
        if (t->learn_key == t->limit && logp <= t->threshold) t->learn_key = key;
    }
    t->divergent_from = NEGATIVE + n_div_free;
    t->mastered_to = NEGATIVE + n_mastered;
    for (int64_t key = NEGATIVE; key < t->divergent_from; key++) t->div_nll[key] = 0.0;
    if (itemsize == 4) t->threshold = (float)t->threshold;
    return out;
}

/* Statistics of one slot's histogram (the same sums as stats_numpy.stats_from_histogram). */
static PyObject *slot_stats(const Tables *t, const uint64_t *h, int64_t newly, PyObject *ranks) {
    const int64_t n_zero = (int64_t)h[0];
    int64_t n = n_zero, n_div = 0, n_mast = n_zero, lo = -1, hi = -1;
    double sum = 0, sum_phi = 0, sum_entropy = 0, sum_div = 0;
    for (int64_t key = NEGATIVE; key < t->limit; key++) {
        const uint64_t c = h[key];
        if (!c) continue;
        if (lo < 0) lo = key;
        hi = key + 1;
        const double w = (double)c;
        n += (int64_t)c;
        sum += w * t->logp[key];
        sum_phi += w * t->phi[key];
        sum_entropy += w * t->entropy[key];
        sum_div += w * t->div_nll[key];
        if (key >= t->divergent_from) n_div += (int64_t)c;
        if (key < t->mastered_to) n_mast += (int64_t)c;
    }
    double sum_sq = 0;
    if (n > 0) {
        const double mean = sum / (double)n;
        for (int64_t key = lo; lo >= 0 && key < hi; key++) {
            const double d = t->logp[key] - mean;
            sum_sq += (double)h[key] * d * d;
        }
        sum_sq += (double)n_zero * mean * mean;
    }
    const Py_ssize_t n_ranks = PyTuple_GET_SIZE(ranks);
    PyObject *ps = PyTuple_New(n_ranks);
    if (ps == NULL) return NULL;
    /* The k-th smallest is the (n - 1 - k)-th largest: +0 first, then the keys ascending. Ranks
       come ascending, so one walk of the keys from the largest value serves them all. */
    int64_t cumulative = 0, key = lo, previous = n;
    for (Py_ssize_t i = n_ranks - 1; i >= 0; i--) {
        const long long k = PyLong_AsLongLong(PyTuple_GET_ITEM(ranks, i));
        if (k == -1 && PyErr_Occurred()) { Py_DECREF(ps); return NULL; }
        if (k < 0 || k >= previous) {
            Py_DECREF(ps);
            PyErr_SetString(PyExc_ValueError, "step: ranks must ascend inside the slot's tokens");
            return NULL;
        }
        previous = k;
        const int64_t rank = n - 1 - k - n_zero;
        double p = 1.0;
        if (rank >= 0) {
            while (cumulative + (int64_t)h[key] <= rank) cumulative += (int64_t)h[key++];
            p = t->p[key];
        }
        PyTuple_SET_ITEM(ps, i, PyFloat_FromDouble(p));
    }
    return Py_BuildValue("(LLdddddLLLN)", (long long)n, (long long)n_zero, sum, sum_sq, sum_phi,
                         sum_entropy, sum_div, (long long)n_div, (long long)n_mast, (long long)newly, ps);
}

static PyObject *step(PyObject *self, PyObject *args) {
    PyObject *o_tables, *o_path, *o_ends, *o_slots, *o_seen, *o_ranks;
    long long data_offset, n_tokens, window, flush_tokens = FLUSH_TOKENS;
    int threads;
    if (!PyArg_ParseTuple(args, "OO&LLOOOO!iL|L", &o_tables, PyUnicode_FSConverter, &o_path, &data_offset,
                          &n_tokens, &o_ends, &o_slots, &o_seen, &PyTuple_Type, &o_ranks, &threads, &window,
                          &flush_tokens))
        return NULL;
    Py_buffer ends = {0}, slots = {0}, seen = {0};
    PyObject *result = NULL;
    uint64_t *total = NULL;
    int fd = -1;
    if (!PyBytes_Check(o_tables) || PyBytes_GET_SIZE(o_tables) != (Py_ssize_t)sizeof(Tables)) {
        PyErr_SetString(PyExc_TypeError, "step: tables must come from tables()");
        goto done;
    }
    const Tables *t = (const Tables *)PyBytes_AS_STRING(o_tables);
    if (PyObject_GetBuffer(o_ends, &ends, PyBUF_C_CONTIGUOUS) < 0
        || PyObject_GetBuffer(o_slots, &slots, PyBUF_C_CONTIGUOUS) < 0
        || (o_seen != Py_None && PyObject_GetBuffer(o_seen, &seen, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0))
        goto done;
    const int64_t n_runs = ends.len / 8;
    const int64_t *run_end = ends.buf;
    const uint8_t *run_slot = slots.buf;
    const int n_slots = (int)PyTuple_GET_SIZE(o_ranks);
    if (window >= 1 && window <= FLUSH_TOKENS) window = (window + 63) / 64 * 64; /* whole words of seen */
    if (n_tokens < 0 || data_offset < 0 || window < 1 || threads < 1 || threads > MAX_THREADS
        || flush_tokens < window || flush_tokens > FLUSH_TOKENS
        || n_slots < 1 || n_slots > MAX_SLOTS || slots.len != n_runs || (n_tokens > 0 && n_runs == 0)
        || (n_runs && run_end[n_runs - 1] != n_tokens) || (o_seen != Py_None && seen.len != (n_tokens + 63) / 64 * 8)) {
        PyErr_SetString(PyExc_ValueError, "step: the runs must end at n_tokens with one slot each, seen "
                        "hold ceil(n_tokens / 64) 64-bit words, ranks one tuple per slot, 1 <= threads <= 64, "
                        "window <= flush_tokens < 2**32");
        goto done;
    }
    for (int64_t i = 0; i < n_runs; i++) {
        if (run_slot[i] >= n_slots || (i && run_end[i] <= run_end[i - 1]) || run_end[i] <= 0) {
            PyErr_SetString(PyExc_ValueError, "step: runs must ascend, with slots below the number of slots");
            goto done;
        }
    }
    for (int s = 0; s < n_slots; s++) {
        if (!PyTuple_Check(PyTuple_GET_ITEM(o_ranks, s))) {
            PyErr_SetString(PyExc_TypeError, "step: ranks must be a tuple of tuples");
            goto done;
        }
    }
    total = calloc((size_t)n_slots * N_KEYS, 8);
    if (total == NULL) { PyErr_NoMemory(); goto done; }
    fd = open(PyBytes_AS_STRING(o_path), O_RDONLY | O_CLOEXEC);
    if (fd < 0) { PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, o_path); goto done; }
    int64_t newly[MAX_SLOTS] = {0};
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    if ((int64_t)threads * window > n_tokens) threads = (int)((n_tokens + window - 1) / window);
    if (threads < 1) threads = 1;
    Job jobs[MAX_THREADS];
    pthread_t ids[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    Py_BEGIN_ALLOW_THREADS
    int64_t next = 0;
    for (int i = 0; i < threads; i++) {
        jobs[i] = (Job){t, fd, data_offset, n_tokens, window, n_runs, flush_tokens, &next, run_end, run_slot,
                        n_slots, o_seen == Py_None ? NULL : seen.buf, total, newly, &lock, 0, 0};
        /* Thread 0 is this one: one thread fewer to start. */
        started[i] = i > 0 && pthread_create(&ids[i], NULL, count_range, &jobs[i]) == 0;
    }
    for (int i = 0; i < threads; i++)
        if (!started[i]) count_range(&jobs[i]);
    for (int i = 1; i < threads; i++)
        if (started[i]) pthread_join(ids[i], NULL);
    Py_END_ALLOW_THREADS
    const Job *failed = NULL; /* the first window that failed, whichever thread read it */
    for (int i = 0; i < threads; i++)
        if (jobs[i].error && (failed == NULL || jobs[i].error_at < failed->error_at)) failed = &jobs[i];
    if (failed && failed->error == -1) {
        PyErr_Format(PyExc_EOFError, "%lld", (long long)failed->error_at);
        goto done;
    }
    if (failed) {
        errno = failed->error;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, o_path);
        goto done;
    }
    uint64_t n_invalid = 0;
    for (int s = 0; s < n_slots; s++) {
        const uint64_t *h = total + (int64_t)s * N_KEYS;
        for (int64_t key = 1; key < NEGATIVE; key++) n_invalid += h[key];
        for (int64_t key = t->limit; key < N_KEYS; key++) n_invalid += h[key];
    }
    if (n_invalid) {  /* the caller locates them; the statistics would be wrong */
        result = Py_BuildValue("(KO)", (unsigned long long)n_invalid, Py_None);
        goto done;
    }
    PyObject *per_slot = PyList_New(n_slots);
    if (per_slot == NULL) goto done;
    for (int s = 0; s < n_slots; s++) {
        PyObject *stats = slot_stats(t, total + (int64_t)s * N_KEYS, newly[s], PyTuple_GET_ITEM(o_ranks, s));
        if (stats == NULL) { Py_DECREF(per_slot); goto done; }
        PyList_SET_ITEM(per_slot, s, stats);
    }
    result = Py_BuildValue("(KN)", (unsigned long long)n_invalid, per_slot);
done:
    if (fd >= 0) close(fd);
    free(total);
    Py_DECREF(o_path);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&seen); /* a no-op on a buffer never filled */
    return result;
}

static PyMethodDef methods[] = {
    {"tables", tables, METH_VARARGS, "Per-key tables of a store's item size and thresholds (opaque bytes)."},
    {"step", step, METH_VARARGS, "Read, count and reduce one step file to per-slot statistics."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_count", NULL, -1, methods};

PyMODINIT_FUNC PyInit__count(void) { return PyModule_Create(&module); }
