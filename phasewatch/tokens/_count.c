/* The counting kernel of the token summary pass (phasewatch.tokens.counting says why it exists).

count(keys, first, run_ends, run_slots, hist, learn_keys, limit, seen, newly)

  keys       uint16[n]          16-bit keys of tokens [first, first + n) (counting.py)
  first      int                global position of keys[0]
  run_ends   int64[r]           ascending ends of the runs of tokens sharing a slot; run i
                                covers [run_ends[i-1], run_ends[i]) (run -1 ends at 0); they
                                must cover [first, first + n)
  run_slots  uint8[r]           the slot of each run, < n_slots
  hist       uint32[n_slots * 65536], writable: hist[slot * 65536 + key] += 1 per token (the
             caller keeps each histogram under 2**32 tokens; half the cache of int64 counts)
  learn_keys None, or uint16[n]: token j is learned now when learn_keys[j] < limit (float16
             stores pass the keys themselves: no flags array to build and read)
  limit      int
  seen       None, or bool/uint8[n], writable: seen |= learned (the learned-at state)
  newly      int64[n_slots], writable: += the tokens of each slot whose seen flag this call set

One pass over the tokens, run by run, with the GIL released: threads counting different token
ranges run in parallel. Plain C with the buffer protocol; no NumPy C API (nothing to match at
build time).
*/
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define N_KEYS 65536

static int get(PyObject *obj, Py_buffer *view, int writable, Py_ssize_t itemsize, const char *name) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    if (view->itemsize != itemsize) {
        PyErr_Format(PyExc_TypeError, "%s: items of %zd bytes expected, got %zd", name, itemsize,
                     view->itemsize);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

static PyObject *count(PyObject *self, PyObject *args) {
    PyObject *o_keys, *o_ends, *o_slots, *o_hist, *o_learned, *o_seen, *o_newly;
    long long first;
    unsigned int limit;
    if (!PyArg_ParseTuple(args, "OLOOOOIOO", &o_keys, &first, &o_ends, &o_slots, &o_hist, &o_learned,
                          &limit, &o_seen, &o_newly))
        return NULL;
    Py_buffer keys = {0}, ends = {0}, slots = {0}, hist = {0}, learned = {0}, seen = {0}, newly = {0};
    PyObject *result = NULL;
    int tracking = o_learned != Py_None;
    if (tracking != (o_seen != Py_None)) {
        PyErr_SetString(PyExc_ValueError, "learn_keys and seen go together (both None or both arrays)");
        return NULL;
    }
    if (get(o_keys, &keys, 0, 2, "keys") < 0) goto done;
    if (get(o_ends, &ends, 0, 8, "run_ends") < 0) goto done;
    if (get(o_slots, &slots, 0, 1, "run_slots") < 0) goto done;
    if (get(o_hist, &hist, 1, 4, "hist") < 0) goto done;
    if (get(o_newly, &newly, 1, 8, "newly") < 0) goto done;
    if (tracking && (get(o_learned, &learned, 0, 2, "learn_keys") < 0 || get(o_seen, &seen, 1, 1, "seen") < 0))
        goto done;

    const Py_ssize_t n = keys.len / 2, n_runs = ends.len / 8, n_slots = hist.len / 4 / N_KEYS;
    const uint16_t *k = keys.buf;
    const int64_t *run_end = ends.buf;
    const uint8_t *run_slot = slots.buf;
    uint32_t *h = hist.buf;
    int64_t *nw = newly.buf;
    const uint16_t *l = learned.buf;
    uint8_t *s = seen.buf;
    if (limit > 0xFFFF) {
        PyErr_SetString(PyExc_ValueError, "count: limit must be a 16-bit key");
        goto done;
    }
    const uint16_t lim = (uint16_t)limit;
    if (hist.len != n_slots * N_KEYS * 4 || newly.len != n_slots * 8 || slots.len != n_runs
        || (tracking && (learned.len != n * 2 || seen.len != n))) {
        PyErr_SetString(PyExc_ValueError, "count: hist must hold n_slots x 65536 counts, newly "
                        "n_slots, run_slots one per run, learn_keys and seen one per key");
        goto done;
    }
    /* The first run holding token `first` (binary search), and the runs must reach first + n. */
    Py_ssize_t lo = 0, hi = n_runs;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) / 2;
        if (run_end[mid] <= first) lo = mid + 1; else hi = mid;
    }
    if (first < 0 || (n > 0 && (n_runs == 0 || run_end[n_runs - 1] < first + n))) {
        PyErr_SetString(PyExc_ValueError, "count: the runs do not cover the keys' tokens");
        goto done;
    }
    int bad_slot = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t i = 0;
    for (Py_ssize_t r = lo; i < n; r++) {
        const Py_ssize_t start = i;
        const Py_ssize_t end = run_end[r] - first < n ? (Py_ssize_t)(run_end[r] - first) : n;
        if (run_slot[r] >= n_slots) { bad_slot = 1; break; }
        uint32_t *hs = h + (Py_ssize_t)run_slot[r] * N_KEYS;
        /* Two loops per run, not one: fused, the scattered increments and the flag stores
           stalled each other: slower than the two loops apart. */
        for (; i < end; i++) hs[k[i]]++;
        if (tracking) {
            /* Fresh counts in a byte per block of 255 tokens: the loop then vectorises without
               widening every flag to 64 bits. */
            int64_t fresh = 0;
            for (Py_ssize_t j = start; j < end;) {
                const Py_ssize_t block_end = end - j > 255 ? j + 255 : end;
                uint8_t block = 0;
                for (; j < block_end; j++) {
                    const uint8_t f = l[j] < lim;
                    block += f & (uint8_t)~s[j];
                    s[j] |= f;
                }
                fresh += block;
            }
            nw[run_slot[r]] += fresh;
        }
    }
    Py_END_ALLOW_THREADS
    if (bad_slot) {
        PyErr_SetString(PyExc_ValueError, "count: a run's slot is not below n_slots");
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    PyBuffer_Release(&keys);
    PyBuffer_Release(&ends);
    PyBuffer_Release(&slots);
    PyBuffer_Release(&hist);
    PyBuffer_Release(&newly);
    PyBuffer_Release(&learned);  /* a no-op on a buffer never filled */
    PyBuffer_Release(&seen);
    return result;
}

static PyMethodDef methods[] = {
    {"count", count, METH_VARARGS, "Add key histograms per slot and learned-at flags of a window."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_count", NULL, -1, methods};

PyMODINIT_FUNC PyInit__count(void) { return PyModule_Create(&module); }
