/* What each thread of the compiled token pass does with the windows of a step's tokens it takes:
read them with pread into a buffer that stays in cache, count their keys into 32-bit histograms
of its own (one per split), update the learned-at bits, and merge into the shared 64-bit totals.
`_count.c` says what the module computes and why. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "_count.h"

static void flush(Job *job, uint32_t *hist, const int64_t *newly) {
    pthread_mutex_lock(job->lock);
    for (int64_t i = 0; i < (int64_t)job->n_slots * N_KEYS; i++) job->total[i] += hist[i];
    for (int s = 0; s < job->n_slots; s++) job->newly[s] += newly[s];
    pthread_mutex_unlock(job->lock);
}

/* Keys of a window, in place: float16 is its own key; float32/64 take the top 16 bits of the
   float32, and learned flags come from the exact values (learn_keys: 0 learned, 1 not). */
static void to_keys(const Tables *t, void *buffer, int64_t n, uint16_t *keys, uint8_t *not_learned) {
    if (t->itemsize == 4) {
        const float *v = buffer;
        const float thr = (float)t->threshold;
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits;
            memcpy(&bits, v + i, 4);
            keys[i] = bits >> 16;
            not_learned[i] = v[i] <= thr;
        }
    } else if (t->itemsize == 8) {
        const double *v = buffer;
        for (int64_t i = 0; i < n; i++) {
            const float f = (float)v[i];
            uint32_t bits;
            memcpy(&bits, &f, 4);
            keys[i] = bits >> 16;
            not_learned[i] = v[i] <= t->threshold;
        }
    }
}

static inline int64_t popcount64(uint64_t x) { /* SWAR: no popcnt instruction is assumed */
    x -= (x >> 1) & 0x5555555555555555ULL;
    x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int64_t)((x * 0x0101010101010101ULL) >> 56);
}

/* Set bits of `words` at bit positions [lo, hi). */
static int64_t count_bits(const uint64_t *words, int64_t lo, int64_t hi) {
    if (lo >= hi) return 0;
    const int64_t first = lo >> 6, last = (hi - 1) >> 6;
    const uint64_t head = ~0ULL << (lo & 63), tail = ~0ULL >> (63 - ((hi - 1) & 63));
    if (first == last) return popcount64(words[first] & head & tail);
    int64_t total = popcount64(words[first] & head) + popcount64(words[last] & tail);
    for (int64_t w = first + 1; w < last; w++) total += popcount64(words[w]);
    return total;
}

/* Bit b: keys[b] < lim (as unsigned), for the first n <= 64 keys. */
static inline uint64_t below_mask(const uint16_t *keys, int64_t n, uint16_t lim) {
    uint64_t m = 0;
#if defined(__SSE2__)
    if (n == 64) { /* 16 keys per compare; x86-64 always has SSE2 */
        const __m128i flip = _mm_set1_epi16((short)0x8000), l = _mm_set1_epi16((short)(lim ^ 0x8000));
        for (int q = 0; q < 4; q++) {
            const __m128i x = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(keys + 16 * q)), flip);
            const __m128i y = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(keys + 16 * q + 8)), flip);
            const __m128i c = _mm_packs_epi16(_mm_cmplt_epi16(x, l), _mm_cmplt_epi16(y, l));
            m |= (uint64_t)(uint16_t)_mm_movemask_epi8(c) << (16 * q);
        }
        return m;
    }
#endif
    for (int64_t b = 0; b < n; b++) m |= (uint64_t)(keys[b] < lim) << b;
    return m;
}

/* The learned-at state of a window of n tokens whose first is bit 0 of seen[0]: sets the bits of
   tokens learned now and leaves in fresh[] those set by this call; returns their OR (0: none).
   A bit per token keeps the state of a 4M-token step in 0.5 MB, in cache beside the histograms
   (a byte per token streamed 4 MB in and out per step: about a tenth of the pass). */
static uint64_t learn(const Tables *t, const uint16_t *keys, const uint8_t *not_learned, int64_t n,
                      uint64_t *seen, uint64_t *fresh) {
    uint64_t any = 0;
    for (int64_t w = 0; w * 64 < n; w++) {
        const int64_t count = n - w * 64 < 64 ? n - w * 64 : 64;
        uint64_t m = 0;
        if (t->itemsize == 2) {
            m = below_mask(keys + w * 64, count, (uint16_t)t->learn_key);
        } else {
            for (int64_t b = 0; b < count; b++) m |= (uint64_t)(not_learned[w * 64 + b] == 0) << b;
        }
        fresh[w] = m & ~seen[w];
        seen[w] |= m;
        any |= fresh[w];
    }
    return any;
}

void *count_range(void *arg) {
    Job *job = arg;
    const Tables *t = job->t;
    const int64_t itemsize = t->itemsize;
    uint32_t *hist = calloc((size_t)job->n_slots * N_KEYS, 4);
    void *buffer = malloc((size_t)(job->window * itemsize));
    uint16_t *keys = itemsize == 2 ? buffer : malloc((size_t)job->window * 2);
    uint8_t *not_learned = itemsize == 2 ? NULL : malloc((size_t)job->window);
    uint64_t *fresh = malloc((size_t)(job->window / 64 + 1) * 8);
    int64_t newly[MAX_SLOTS] = {0}, since_flush = 0;
    if (!hist || !buffer || !keys || !fresh || (itemsize != 2 && !not_learned)) {
        job->error = ENOMEM;
        goto done;
    }
    /* Windows are taken in turn from a shared cursor: a thread that gets less CPU (another job on
       the machine) counts fewer of them instead of holding the others up at the end of the step. */
    int64_t a;
    while ((a = __atomic_fetch_add(job->next, job->window, __ATOMIC_RELAXED)) < job->n_tokens) {
        const int64_t n = job->n_tokens - a < job->window ? job->n_tokens - a : job->window;
        int64_t r = 0, hi = job->n_runs; /* the run holding token a (binary search) */
        while (r < hi) {
            const int64_t mid = (r + hi) / 2;
            if (job->run_end[mid] <= a) r = mid + 1; else hi = mid;
        }
        if (since_flush + n > job->flush_tokens) {
            flush(job, hist, newly);
            memset(hist, 0, (size_t)job->n_slots * N_KEYS * 4);
            memset(newly, 0, sizeof newly);
            since_flush = 0;
        }
        since_flush += n;
        const size_t bytes = (size_t)(n * itemsize);
        size_t got = 0;
        while (got < bytes) {
            const ssize_t k = pread(job->fd, (char *)buffer + got, bytes - got,
                                    (off_t)(job->data_offset + a * itemsize + (int64_t)got));
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0) {
                job->error = k < 0 ? errno : -1;
                job->error_at = a;
                goto done;
            }
            got += (size_t)k;
        }
        if (itemsize != 2) to_keys(t, buffer, n, keys, not_learned);
        const int64_t first_run = r;
        const uint64_t any_fresh = job->seen ? learn(t, keys, not_learned, n, job->seen + a / 64, fresh) : 0;
        for (int64_t i = 0; i < n; r++) {
            const int64_t run_stop = job->run_end[r] - a < n ? job->run_end[r] - a : n;
            uint32_t *h = hist + (int64_t)job->run_slot[r] * N_KEYS;
            /* Apart, the two loops each stream through the window in cache; fused, the
               scattered increments and the flag stores stall each other. */
            /* Four keys per 64-bit load: fewer loads and loop steps per increment. */
            for (; i + 4 <= run_stop; i += 4) {
                uint64_t four;
                memcpy(&four, keys + i, 8);
                h[four & 0xFFFF]++;
                h[(four >> 16) & 0xFFFF]++;
                h[(four >> 32) & 0xFFFF]++;
                h[four >> 48]++;
            }
            for (; i < run_stop; i++) h[keys[i]]++;
        }
        for (int64_t q = first_run, lo = 0; any_fresh && q < r; q++) {  /* fresh tokens per split */
            const int64_t hi = job->run_end[q] - a < n ? job->run_end[q] - a : n;
            newly[job->run_slot[q]] += count_bits(fresh, lo, hi);
            lo = hi;
        }
    }
    flush(job, hist, newly);
done:
    free(hist);
    if ((void *)keys != buffer) free(keys);
    free(buffer);
    free(not_learned);
    free(fresh);
    return NULL;
}
