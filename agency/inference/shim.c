/* The inference engine's BLAS shim: a faster path for one-row products on a CPU.
 *
 * Built for the machine by `make venv` (agency/inference/shim.py) and loaded by blas.py
 * into the process's global symbol scope before OpenBLAS and before MLX is imported, so
 * that MLX's `cblas_sgemm` resolves to the one below. Every product with more than one
 * row goes to OpenBLAS's sgemm unchanged. A one-row product (each generated token
 * multiplies one row by every weight matrix) goes to:
 *
 * 1. the quantized kernel, when the weight is registered (qgemv.py): the GGUF file's own
 *    4- or 8-bit form of the float32 weight MLX holds, 4-6x fewer bytes to read, and a
 *    token is bound by memory bandwidth (float32: ~540 MB a token for SmolLM2-135M);
 * 2. otherwise OpenBLAS's sgemv, several times faster than its sgemm at one row.
 *
 * The registry maps a float32 weight's address (what MLX passes) to its quantized form.
 * qgemv.py keeps both alive while registered, so the address cannot be reused; besides
 * the address and shape, a lookup compares Q_SAMPLES values of the matrix it is handed
 * with those the weight held when registered, and uses the float32 path if any differs.
 * The dequantized weight is exactly scale * q + offset, so the kernel's products are the
 * float32 ones up to the order of the float additions.
 *
 * Layout (MLX's affine quantization, as `mx.load` returns GGUF tensors): 8-bit rows have
 * one byte a value; 4-bit rows have k/2 bytes, value 2j in the low nibble of byte j and
 * 2j+1 in the high one. Scales and offsets are float32 here, one per 32 values. For 4
 * bits the input is reordered once per call, per group, to [16 even-indexed values, 16
 * odd-indexed ones], so one 16-byte load widened to 16 lanes multiplies the even values
 * (low nibbles) and the odd ones (high nibbles). sum(x * (s*q + b)) = s * sum(x*q) +
 * b * sum(x), with sum(x) per group computed once per call.
 *
 * AVX-512 (16 lanes) and AVX2+FMA (8 lanes) variants are chosen at run time; without
 * either nothing is registered and the plain sgemv path is used.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define Q_X86 1
#endif

#define Q_MAX_K 16384
#define Q_CAPACITY 8192
#define Q_SAMPLES 8

/* ------------------------------------------------------------------ the registry */

typedef struct {
    const float *key; /* the float32 weight (n x k, row-major) MLX multiplies by */
    int n, k, bits;
    const uint8_t *q;     /* n x k*bits/8 bytes */
    const float *scales;  /* n x k/32 */
    const float *offsets; /* n x k/32 */
    size_t sample_at[Q_SAMPLES];
    uint32_t sample[Q_SAMPLES]; /* the bits of key[sample_at[i]] when registered */
} q_matrix;

/* Sorted by key; registration is rare (model loads), lookups are per product. */
static q_matrix q_table[Q_CAPACITY];
static int q_count;
static pthread_rwlock_t q_lock = PTHREAD_RWLOCK_INITIALIZER;
static int q_level = -1; /* 2: AVX-512, 1: AVX2+FMA, 0: none; -1: not chosen yet */
static unsigned long q_hits, q_stale;

int agency_q_detect(void) {
#ifdef Q_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return 1;
#endif
    return 0;
}

/* The variant used from now on (tests force each one); returns the one in use. */
int agency_q_use(int level) {
    int best = agency_q_detect();
    q_level = level < 0 || level > best ? best : level;
    return q_level;
}

static int q_find(const float *key) {
    int lo = 0, hi = q_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (q_table[mid].key == key)
            return mid;
        if ((uintptr_t)q_table[mid].key < (uintptr_t)key)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -(lo + 1);
}

/* Positions spread over the matrix: the first and last values and six between, each in
   another row and column. */
static void q_sample(q_matrix *m) {
    for (int i = 0; i < Q_SAMPLES; i++) {
        size_t row = (size_t)i * (m->n - 1) / (Q_SAMPLES - 1);
        size_t col = ((size_t)i * 2654435761u + row) % m->k;
        if (i == 0)
            col = 0;
        if (i == Q_SAMPLES - 1)
            col = m->k - 1;
        m->sample_at[i] = row * m->k + col;
        memcpy(&m->sample[i], &m->key[m->sample_at[i]], sizeof(uint32_t));
    }
}

/* Does the matrix at `w` still hold what was registered under its address? */
static int q_same(const q_matrix *m, const float *w) {
    for (int i = 0; i < Q_SAMPLES; i++) {
        uint32_t bits;
        memcpy(&bits, &w[m->sample_at[i]], sizeof bits);
        if (bits != m->sample[i])
            return 0;
    }
    return 1;
}

int agency_q_register(const float *key, int n, int k, int bits, const uint8_t *q,
                      const float *scales, const float *offsets) {
    if (q_level < 0)
        agency_q_use(-1);
    if (q_level == 0 || n <= 0 || k <= 0 || k % 32 || k > Q_MAX_K || (bits != 4 && bits != 8))
        return 0;
    pthread_rwlock_wrlock(&q_lock);
    int at = q_find(key), ok = 0;
    if (at < 0 && q_count < Q_CAPACITY) {
        at = -at - 1;
        memmove(&q_table[at + 1], &q_table[at], (q_count - at) * sizeof(q_matrix));
        q_table[at] = (q_matrix){.key = key, .n = n, .k = k, .bits = bits, .q = q,
                                 .scales = scales, .offsets = offsets};
        q_sample(&q_table[at]);
        q_count++;
        ok = 1;
    }
    pthread_rwlock_unlock(&q_lock);
    return ok;
}

void agency_q_unregister(const float *key) {
    pthread_rwlock_wrlock(&q_lock);
    int at = q_find(key);
    if (at >= 0) {
        memmove(&q_table[at], &q_table[at + 1], (q_count - at - 1) * sizeof(q_matrix));
        q_count--;
    }
    pthread_rwlock_unlock(&q_lock);
}

int agency_q_count(void) { return q_count; }

/* Products the kernel computed, and lookups refused because the matrix had changed. */
unsigned long agency_q_hits(void) { return __atomic_load_n(&q_hits, __ATOMIC_RELAXED); }
unsigned long agency_q_stale(void) { return __atomic_load_n(&q_stale, __ATOMIC_RELAXED); }

/* ------------------------------------------------------------------ the kernel */

static inline void q_store(float dot, float alpha, float beta, float *c) {
    /* beta == 0: c may hold anything (even NaN) and must not be read. */
    *c = beta == 0.0f ? alpha * dot : alpha * dot + beta * *c;
}

#ifdef Q_X86
/* One group of 32 values into two 16-lane accumulators, scaled by s. */
__attribute__((target("avx512f,avx512bw"))) static inline void
q_group512(const q_matrix *m, const uint8_t *q, const float *x, __m512 s, __m512 *acc0,
           __m512 *acc1) {
    __m512 v0, v1;
    if (m->bits == 4) {
        __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q));
        v0 = _mm512_cvtepi32_ps(_mm512_and_si512(v, _mm512_set1_epi32(15)));
        v1 = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
    } else {
        v0 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)q)));
        v1 = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(q + 16))));
    }
    /* Two accumulators: consecutive groups' dependency chains overlap. */
    *acc0 = _mm512_fmadd_ps(_mm512_mul_ps(v0, s), _mm512_loadu_ps(x), *acc0);
    *acc1 = _mm512_fmadd_ps(_mm512_mul_ps(v1, s), _mm512_loadu_ps(x + 16), *acc1);
}

__attribute__((target("avx512f,avx512bw"))) static void
q_rows512(const q_matrix *m, const float *xp, const float *xsum, float alpha, float beta,
          float *c) {
    const int groups = m->k / 32, group_bytes = 4 * m->bits;
    for (int r = 0; r < m->n; r++) {
        const uint8_t *q = m->q + (size_t)r * groups * group_bytes;
        const float *s = m->scales + (size_t)r * groups;
        const float *b = m->offsets + (size_t)r * groups;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        float offset = 0.0f;
        for (int g = 0; g < groups; g++) {
            q_group512(m, q + g * group_bytes, xp + 32 * g, _mm512_set1_ps(s[g]), &acc0, &acc1);
            offset += b[g] * xsum[g];
        }
        q_store(_mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + offset, alpha, beta, c + r);
    }
}

/* 8 bytes (8 values) widened to 8 float lanes. */
__attribute__((target("avx2,fma"))) static inline __m256i q_widen8(const uint8_t *q) {
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q));
}

__attribute__((target("avx2,fma"))) static inline void
q_group256(const q_matrix *m, const uint8_t *q, const float *x, __m256 s, __m256 *acc0,
           __m256 *acc1) {
    __m256 t0, t1;
    if (m->bits == 4) {
        const __m256i low = _mm256_set1_epi32(15);
        __m256i v0 = q_widen8(q), v1 = q_widen8(q + 8);
        t0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v0, low)), _mm256_loadu_ps(x));
        t0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(v1, low)),
                             _mm256_loadu_ps(x + 8), t0);
        t1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v0, 4)), _mm256_loadu_ps(x + 16));
        t1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(v1, 4)),
                             _mm256_loadu_ps(x + 24), t1);
    } else {
        t0 = _mm256_mul_ps(_mm256_cvtepi32_ps(q_widen8(q)), _mm256_loadu_ps(x));
        t0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q_widen8(q + 8)), _mm256_loadu_ps(x + 8), t0);
        t1 = _mm256_mul_ps(_mm256_cvtepi32_ps(q_widen8(q + 16)), _mm256_loadu_ps(x + 16));
        t1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q_widen8(q + 24)), _mm256_loadu_ps(x + 24), t1);
    }
    *acc0 = _mm256_fmadd_ps(s, t0, *acc0);
    *acc1 = _mm256_fmadd_ps(s, t1, *acc1);
}

__attribute__((target("avx2,fma"))) static void
q_rows256(const q_matrix *m, const float *xp, const float *xsum, float alpha, float beta,
          float *c) {
    const int groups = m->k / 32, group_bytes = 4 * m->bits;
    for (int r = 0; r < m->n; r++) {
        const uint8_t *q = m->q + (size_t)r * groups * group_bytes;
        const float *s = m->scales + (size_t)r * groups;
        const float *b = m->offsets + (size_t)r * groups;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        float offset = 0.0f;
        for (int g = 0; g < groups; g++) {
            q_group256(m, q + g * group_bytes, xp + 32 * g, _mm256_set1_ps(s[g]), &acc0, &acc1);
            offset += b[g] * xsum[g];
        }
        __m256 acc = _mm256_add_ps(acc0, acc1);
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        q_store(_mm_cvtss_f32(h) + offset, alpha, beta, c + r);
    }
}
#endif

/* c (n) = alpha * W x + beta * c, x read with stride incx; 0 when W is not registered
   or no longer holds what was (the caller then uses sgemv). */
static int q_gemv(const float *w, int n, int k, int ldw, const float *x, int incx, float alpha,
                  float beta, float *c) {
    if (q_count == 0 || ldw != k || q_level <= 0)
        return 0;
    pthread_rwlock_rdlock(&q_lock);
    int at = q_find(w);
    if (at < 0 || q_table[at].n != n || q_table[at].k != k) {
        pthread_rwlock_unlock(&q_lock);
        return 0;
    }
    const q_matrix *m = &q_table[at];
    if (!q_same(m, w)) {
        __atomic_fetch_add(&q_stale, 1, __ATOMIC_RELAXED);
        pthread_rwlock_unlock(&q_lock);
        return 0;
    }
    float xp[Q_MAX_K], xsum[Q_MAX_K / 32];
    for (int g = 0; g < k / 32; g++) {
        float sum = 0.0f;
        for (int j = 0; j < 32; j++) {
            /* 4 bits: even-indexed values first (low nibbles), then odd ones. */
            int from = m->bits == 4 ? (j < 16 ? 2 * j : 2 * (j - 16) + 1) : j;
            float v = x[(size_t)(32 * g + from) * incx];
            xp[32 * g + j] = v;
            sum += v;
        }
        xsum[g] = sum;
    }
#ifdef Q_X86
    if (q_level == 2)
        q_rows512(m, xp, xsum, alpha, beta, c);
    else
        q_rows256(m, xp, xsum, alpha, beta, c);
#endif
    pthread_rwlock_unlock(&q_lock);
    __atomic_fetch_add(&q_hits, 1, __ATOMIC_RELAXED);
    return 1;
}

/* ------------------------------------------------------------------ cblas_sgemm */

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                         const float *, int, float, float *, int);
typedef void (*sgemv_fn)(int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
static sgemm_fn real_sgemm;
static sgemv_fn real_sgemv;

/* OpenBLAS's own functions, which every product below ends in (blas.py binds them). */
void agency_blas_bind(void *sgemm, void *sgemv) {
    real_sgemm = (sgemm_fn)sgemm;
    real_sgemv = (sgemv_fn)sgemv;
}

/* C(1 x n) = alpha * op(A)(1 x k) * op(B)(k x n) + beta * C, row-major: a matrix-vector
   product with B, which sgemv does several times faster than sgemm. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta,
                 float *c, int ldc) {
    if (m == 1 && order == RowMajor) {
        int inca = ta == NoTrans ? 1 : lda;
        if (tb == Trans && q_gemv(b, n, k, ldb, a, inca, alpha, beta, c))
            return;
        if (tb == Trans)
            real_sgemv(RowMajor, NoTrans, n, k, alpha, b, ldb, a, inca, beta, c, 1);
        else
            real_sgemv(RowMajor, Trans, k, n, alpha, b, ldb, a, inca, beta, c, 1);
        return;
    }
    real_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
