/*
 * kernels.c -- instantiates the type-generic kernels of kernels.inc for
 * float (_f32) and double (_f64).  See initreg.h for the contracts.
 *
 * Build notes
 * - Compiled with -O3 -ffp-contract=fast -fopenmp-simd (setup.py); no
 *   -ffast-math, because NaN and inf must propagate to the divergence checks.
 * - The hot loops are compiled three times (baseline x86-64, x86-64-v3 =
 *   AVX2+FMA, x86-64-v4 = AVX-512) and the loader picks the best clone for
 *   the CPU it runs on, so one portable wheel still gets wide vectors.
 *   Results can therefore differ in the last bits between CPU generations.
 */
#include "initreg.h"

#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "kernels.c relies on NaN and inf (finiteness checks, the update's guard): build without -ffast-math / -Ofast"
#endif

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && \
    !defined(INITREG_NO_CLONES)
#define IR_HOT \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define IR_HOT
#endif

/* Internal: the update loop without any L1 term (l1 == 0); apart from every
 * enum ir_l1_mode value. */
#define IR_L1_NONE (-1)

#if defined(__GNUC__)
#define IR_INLINE static inline __attribute__((always_inline))
#else
#define IR_INLINE static inline
#endif

/* Without a prefetch instruction the update runs its plain loop on every
 * size: the blocks alone would only cost. */
#if defined(__GNUC__)
#define IR_PREFETCH(address, for_write) __builtin_prefetch((address), (for_write), 3)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <xmmintrin.h>
#define IR_PREFETCH(address, for_write) \
    _mm_prefetch((const char *)(address), _MM_HINT_T0)
#endif

/* The optimizer updates run with flush-to-zero: a moment or velocity that
 * decays geometrically (those of a dead ReLU unit's weights, whose gradient
 * is 0) would otherwise become subnormal, and on x86 every operation that
 * yields a subnormal takes a microcode assist: the loop runs 2-3x slower
 * for the rest of training.  Such a value becomes 0 instead.  The caller's
 * mode is restored on return. */
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
typedef unsigned int ir_fp_mode;
IR_INLINE ir_fp_mode ir_flush_to_zero(void)
{
    const ir_fp_mode saved = _mm_getcsr();
    _mm_setcsr(saved | _MM_FLUSH_ZERO_ON);
    return saved;
}
IR_INLINE void ir_restore_fp_mode(ir_fp_mode saved) { _mm_setcsr(saved); }
#else
typedef int ir_fp_mode;
IR_INLINE ir_fp_mode ir_flush_to_zero(void) { return 0; }
IR_INLINE void ir_restore_fp_mode(ir_fp_mode saved) { (void)saved; }
#endif

/* Arrays of at least IR_STREAM_BYTES (initreg.h) are updated in blocks of
 * IR_BLOCK_BYTES, each block prefetching the one IR_AHEAD_BYTES ahead (see
 * ir_sgd_stream); both sizes were chosen by timing (csrc/README.md). */
#define IR_BLOCK_BYTES 256
#define IR_AHEAD_BYTES 1024
#define IR_LINE_BYTES 64

/* ---- float ---------------------------------------------------------------- */
#define REAL float
#define COPYSIGN copysignf
#define FABS fabsf
#define SQRT sqrtf
#define UINT uint32_t
#define SFX(name) name##_f32
#define REAL_MAX FLT_MAX
#define MANT_BITS 23
#define EXP_BIAS 127
#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: x + M rounds x to an integer */
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693145751953125f /* ln 2 split so that n * LN2_HI is exact */
#define LN2_LO 1.42860682030941723212e-6f
#define EXP_HI 88.72283935546875f /* ln(FLT_MAX): exp overflows above */
#define EXP_LO -86.6f             /* exp flushes to 0 below (< 2.6e-38) */
/* float tanh is a rational minimax fit x P(x^2) / Q(x^2) on [0, TANH_ONE]
 * (fitted for initreg by iteratively reweighted least squares on the
 * relative error: 4.2e-8 before rounding); above TANH_ONE = 8.67 the correctly
 * rounded tanh is 1.  Cheaper than the exp-based double formula. */
#define TANH_RATIONAL
#define TANH_ONE 8.67f
#define TANH_P0 0.99999996f
#define TANH_P1 0.12939597f
#define TANH_P2 2.9427221e-3f
#define TANH_P3 9.4694818e-6f
#define TANH_P4 -1.3393824e-8f
#define TANH_P5 1.9848765e-11f
#define TANH_Q1 0.46272895f
#define TANH_Q2 2.3852888e-2f
#define TANH_Q3 2.3114612e-4f
#define SIGMOID_LO -20.0f /* sigmoid(20) rounds to 1 */
#define SIGMOID_HI 88.9f  /* n = 128: 2^n P(r) is inf, sigmoid 0 */
/* e^r = P(r) / P(-r) for |r| <= ln2/2, the [3/3] Pade approximant (relative
 * error < 1e-8), P(r) = 1 + r / 2 + r^2 / 10 + r^3 / 120.  Returns the even
 * part E(r^2) of P(r) = E(r^2) + r O(r^2) and sets *r_odd = r O. */
IR_INLINE float ir_exp_pade_f32(float r, float *r_odd)
{
    const float u = r * r;
    *r_odd = r * (u * (1.0f / 120) + 0.5f);
    return u * 0.1f + 1;
}
#define EXP_PADE ir_exp_pade_f32
/* e^r - 1 for |r| <= ln2 / 2: Taylor to r^7, truncation < 1.6e-8 relative. */
IR_INLINE float ir_expm1_poly_f32(float r)
{
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    return p * r;
}
#define EXPM1_POLY ir_expm1_poly_f32
#include "kernels.inc"
#undef REAL
#undef COPYSIGN
#undef FABS
#undef SQRT
#undef UINT
#undef SFX
#undef REAL_MAX
#undef MANT_BITS
#undef EXP_BIAS
#undef ROUND_MAGIC
#undef LOG2E
#undef LN2_HI
#undef LN2_LO
#undef EXP_HI
#undef EXP_LO
#undef TANH_RATIONAL
#undef EXPM1_POLY
#undef EXP_PADE
#undef SIGMOID_LO
#undef SIGMOID_HI

/* ---- double --------------------------------------------------------------- */
#define REAL double
#define COPYSIGN copysign
#define FABS fabs
#define SQRT sqrt
#define UINT uint64_t
#define SFX(name) name##_f64
#define REAL_MAX DBL_MAX
#define MANT_BITS 52
#define EXP_BIAS 1023
#define ROUND_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define LOG2E 1.4426950408889634074
#define LN2_HI 6.93147180369123816490e-01 /* fdlibm's split of ln 2 */
#define LN2_LO 1.90821492927058770002e-10
#define EXP_HI 709.782712893383973096 /* ln(DBL_MAX) */
#define EXP_LO -707.7                 /* flush below (< 9e-308) */
#define TANH_CLAMP 19.1               /* tanh(19.1) rounds to 1 in double */
#define SIGMOID_LO -40.0             /* sigmoid(40) rounds to 1 */
#define SIGMOID_HI 710.0             /* n = 1024: 2^n P(r) is inf, sigmoid 0 */
/* e^r = P(r) / P(-r) for |r| <= ln2/2, the [6/6] Pade approximant (relative
 * error < 2e-19), P(r) = sum_k (12 - k)! 6! / (12! k! (6 - k)!) r^k.  Returns
 * the even part E(r^2) of P(r) = E(r^2) + r O(r^2) and sets *r_odd = r O. */
IR_INLINE double ir_exp_pade_f64(double r, double *r_odd)
{
    const double u = r * r;
    *r_odd = r * ((u * (1.0 / 15840) + 1.0 / 66) * u + 1.0 / 2);
    return ((u * (1.0 / 665280) + 1.0 / 792) * u + 5.0 / 44) * u + 1;
}
#define EXP_PADE ir_exp_pade_f64
/* e^r - 1 for |r| <= ln2 / 2: Taylor to r^13, truncation < 2e-17 relative,
 * evaluated by Estrin's scheme: a Horner chain of 13 dependent FMAs would
 * make every exp wait on latency. */
IR_INLINE double ir_expm1_poly_f64(double r)
{
    /* 1/k! for k = 1 .. 13 */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double a0 = 1.0 + r * 0.5;
    const double a1 = 1.0 / 6.0 + r * (1.0 / 24.0);
    const double a2 = 1.0 / 120.0 + r * (1.0 / 720.0);
    const double a3 = 1.0 / 5040.0 + r * (1.0 / 40320.0);
    const double a4 = 1.0 / 362880.0 + r * (1.0 / 3628800.0);
    const double a5 = 1.0 / 39916800.0 + r * (1.0 / 479001600.0);
    const double b0 = a0 + r2 * a1, b1 = a2 + r2 * a3;
    const double b2 = a4 + r2 * (a5 + r2 * (1.0 / 6227020800.0));
    return r * ((b0 + r4 * b1) + r8 * b2);
}
#define EXPM1_POLY ir_expm1_poly_f64
#include "kernels.inc"
