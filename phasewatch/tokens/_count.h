/* Shared by the two halves of the compiled token pass: `_count.c` (the Python module: tables,
   step, the per-split reduction) and `_count_pass.c` (what each thread does with its tokens). */
#ifndef PHASEWATCH_COUNT_H
#define PHASEWATCH_COUNT_H

#include <pthread.h>
#include <stdint.h>

#define N_KEYS 65536
#define NEGATIVE 0x8000
#define MAX_SLOTS 8
#define MAX_THREADS 64
#define FLUSH_TOKENS 0xFFFFFFFFLL /* a thread's 32-bit counts are merged before they could wrap */

typedef struct {
    int64_t itemsize;
    int64_t limit;          /* valid keys: 0 (+0) and [NEGATIVE, limit); limit is -inf's key */
    int64_t divergent_from; /* keys [divergent_from, limit) have p < divergent_p */
    int64_t mastered_to;    /* keys [NEGATIVE, mastered_to) (and +0) have p > mastered_p */
    int64_t learn_key;      /* float16: learned when key < learn_key */
    double threshold;       /* float32/float64: learned when value > threshold (in that type) */
    double logp[N_KEYS], p[N_KEYS], phi[N_KEYS], entropy[N_KEYS], div_nll[N_KEYS];
} Tables;

/* One thread's work: the windows of tokens [a, a + window) it takes from the shared cursor `next`
   (window a multiple of 64: each window's words of `seen` are its own). */
typedef struct {
    const Tables *t;
    int fd;
    int64_t data_offset, n_tokens, window, n_runs, flush_tokens;
    int64_t *next;   /* shared: the first token no thread has taken yet */
    const int64_t *run_end;
    const uint8_t *run_slot;
    int n_slots;
    uint64_t *seen;  /* the learned-at state, one bit per token (bit t % 64 of word t / 64) */
    uint64_t *total; /* n_slots x N_KEYS, shared: merged under the lock */
    int64_t *newly;  /* n_slots, shared */
    pthread_mutex_t *lock;
    int error;       /* errno of a failing read, or -1: the file ended early */
    int64_t error_at; /* the window it happened in */
} Job;

/* A thread's body (pthread signature): reads and counts windows, merges them into job->total. */
void *count_range(void *job);

#endif
