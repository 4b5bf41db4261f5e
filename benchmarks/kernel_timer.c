/*
 * kernel_timer.c -- times the elementwise kernels of csrc/kernels.c alone,
 * without Python or BLAS around them, for comparing variants of a kernel
 * (a change shows here long before it shows through a whole training step
 * on a noisy host).  Not part of the package or the tests.
 *
 *   gcc -O3 -ffp-contract=fast -fno-math-errno -fno-trapping-math \
 *       -fopenmp-simd -Icsrc benchmarks/kernel_timer.c csrc/kernels.c -lm \
 *       -o /tmp/kernel_timer && /tmp/kernel_timer
 *
 * (the flags of setup.py; add -DOFFSET=16 for buffers misaligned as NumPy's
 * are).  Each kernel runs CALLS times on tiny's sizes; the best of ROUNDS
 * such timings is printed, in ns per element; then the update by array
 * size, up to 64M elements from DRAM against a plain subtract.  To compare
 * two variants, build one binary each and run them alternately.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "initreg.h"

enum { N_ACT = 8192, N_PARAMS = 26122, CALLS = 2000, ROUNDS = 40 };
enum { N_STREAM = 64 << 20, STREAM_ROUNDS = 9 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Buffers start OFFSET bytes past a cache line: 0 as in initreg's Network;
 * -DOFFSET=16 places them as NumPy's own allocations fall. */
#ifndef OFFSET
#define OFFSET 0
#endif
static void *aligned(size_t bytes)
{
    char *p = aligned_alloc(64, (bytes + OFFSET + 63) / 64 * 64);
    if (p == NULL) {
        perror("aligned_alloc");
        exit(1);
    }
    return p + OFFSET;
}
#define release(p) free((char *)(p) - OFFSET)

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * rand() / (double)RAND_MAX;
}

/* the bandwidth bound of the update: the same bytes, no arithmetic */
__attribute__((noinline)) static void subtract(float *restrict w,
                                               const float *restrict g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= g[i];
}

#define TIME_BEST(best, n, call)                                 \
    do {                                                         \
        best = 1e30;                                             \
        for (int r_ = 0; r_ < ROUNDS; r_++) {                    \
            const double t0_ = now();                            \
            for (int c_ = 0; c_ < CALLS; c_++)                   \
                call;                                            \
            const double dt_ = (now() - t0_) / CALLS / (n);      \
            best = dt_ < best ? dt_ : best;                      \
        }                                                        \
        best *= 1e9;                                             \
    } while (0)

int main(void)
{
    float *xf = aligned(N_ACT * sizeof *xf), *yf = aligned(N_ACT * sizeof *yf);
    double *xd = aligned(N_ACT * sizeof *xd), *yd = aligned(N_ACT * sizeof *yd);
    float *b = aligned(128 * sizeof *b);
    memset(b, 0, 128 * sizeof *b);
    float *w = aligned(N_PARAMS * sizeof *w), *g = aligned(N_PARAMS * sizeof *g);
    srand(1);
    for (int i = 0; i < N_ACT; i++)
        xd[i] = xf[i] = (float)uniform(-4, 4);
    for (int i = 0; i < N_PARAMS; i++) {
        w[i] = (float)uniform(-0.5, 0.5);
        g[i] = (float)uniform(-5e-4, 5e-4);
    }
    ir_sgd_params p;
    memset(&p, 0, sizeof p);
    p.lr = 1e-3; /* compare.py's optimiser: L1 subgradient + L2 */
    p.l1 = 1e-5;
    p.l2 = 1e-4;
    p.l1_mode = IR_L1_SUBGRADIENT;

    double t;
    TIME_BEST(t, N_ACT, ir_tanh_f32(xf, yf, N_ACT));
    printf("tanh float32              %.3f ns per value\n", t);
    TIME_BEST(t, N_ACT, ir_tanh_f64(xd, yd, N_ACT));
    printf("tanh float64              %.3f ns per value\n", t);
    TIME_BEST(t, N_ACT, ir_sigmoid_f32(xf, yf, N_ACT));
    printf("sigmoid float32           %.3f ns per value\n", t);
    TIME_BEST(t, N_ACT, ir_sigmoid_f64(xd, yd, N_ACT));
    printf("sigmoid float64           %.3f ns per value\n", t);
    /* in place, as in the network: each call re-applies tanh to its output */
    memcpy(yf, xf, N_ACT * sizeof *yf);
    TIME_BEST(t, N_ACT, ir_bias_activation_f32(yf, b, N_ACT / 128, 128, IR_TANH, 0));
    printf("bias + tanh float32       %.3f ns per value\n", t);
    TIME_BEST(t, N_PARAMS, ir_sgd_update_f32(w, g, NULL, NULL, N_PARAMS, &p));
    printf("sgd update float32        %.3f ns per parameter\n", t);
    release(xf), release(yf), release(xd), release(yd), release(b), release(w), release(g);

    w = aligned(N_STREAM * sizeof *w), g = aligned(N_STREAM * sizeof *g);
    for (size_t i = 0; i < N_STREAM; i++) {
        w[i] = (float)uniform(-0.5, 0.5);
        g[i] = (float)uniform(-5e-4, 5e-4);
    }
    /* the update by array size, through L2, L3 and DRAM (IR_STREAM_BYTES
     * is where it starts prefetching); ~2e8 elements per timing */
    const size_t sizes[] = {N_PARAMS, 1 << 20, 4 << 20, 16 << 20};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        const size_t n = sizes[s];
        const int calls = (int)(200000000 / n);
        double best = 1e30;
        for (int r = 0; r < 15; r++) {
            double t0 = now();
            for (int c = 0; c < calls; c++)
                ir_sgd_update_f32(w, g, NULL, NULL, n, &p);
            t0 = (now() - t0) / calls / n;
            best = t0 < best ? t0 : best;
        }
        printf("sgd update float32, %8zu parameters  %.3f ns each\n", n, 1e9 * best);
    }
    /* From DRAM: the update against a plain w -= g over the same buffers,
     * alternating, best of STREAM_ROUNDS each; GB/s count 12 bytes per
     * element (read w and g, write w) for both. */
    double best_update = 1e30, best_subtract = 1e30;
    for (int r = 0; r < STREAM_ROUNDS; r++) {
        double t0 = now();
        ir_sgd_update_f32(w, g, NULL, NULL, N_STREAM, &p);
        t0 = now() - t0;
        best_update = t0 < best_update ? t0 : best_update;
        t0 = now();
        subtract(w, g, N_STREAM);
        t0 = now() - t0;
        best_subtract = t0 < best_subtract ? t0 : best_subtract;
    }
    printf("sgd update float32, 64M   %.1f GB/s, w -= g %.1f GB/s: %.2f of it\n",
           12.0 * N_STREAM / best_update / 1e9, 12.0 * N_STREAM / best_subtract / 1e9,
           best_subtract / best_update);
    release(w), release(g);
    return 0;
}
