/*
 * initreg.h -- the elementwise kernels of initreg's compiled core.
 *
 * Plain C99, no Python.  Every kernel comes as a float (_f32) and a double
 * (_f64) pair, works on caller-owned, C-contiguous (row-major) buffers,
 * allocates nothing and never fails: bad values (NaN, inf) propagate and are
 * reported through return values, never through errno or aborts.
 *
 * The matrix products are not here: they are BLAS calls made from Cython.
 * These kernels are everything around them, each fused into one pass:
 *   forward   z <- f(z + b)                       (bias + activation)
 *   backward  d <- d * f'(a), colsum(d)            (derivative from the stored
 *                                                   activation, bias gradient)
 *   loss      softmax / sigmoid / identity output with its loss, returning the
 *             summed loss and writing d(mean loss)/d(logits)
 *   update    the SGD and Adam steps with L1 / L2 penalties and decoupled
 *             weight decay
 */
#ifndef INITREG_H
#define INITREG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Activation codes (the same numbers are used by the Cython layer). */
enum ir_activation {
    IR_IDENTITY = 0,
    IR_TANH = 1,
    IR_SIGMOID = 2,
    IR_RELU = 3,
    IR_LEAKY_RELU = 4
};

/* How the L1 term enters the update. */
enum ir_l1_mode {
    IR_L1_SUBGRADIENT = 0, /* l1 * sign(w) enters the gradient, sign(0) = 0  */
    IR_L1_PROXIMAL = 1,    /* soft-threshold by lr * l1 after the step      */
    IR_L1_CUMULATIVE = 2,  /* Tsuruoka et al. (2009) cumulative clipping    */
    IR_L1_PROXIMAL_PRECONDITIONED = 3 /* Adam: threshold lr * l1 / denom    */
};

/* Hyper-parameters of one SGD update (the formulas: kernels.inc). */
typedef struct {
    double lr;        /* learning rate, > 0                                    */
    double momentum;  /* mu in [0, 1); 0 skips the velocity buffer entirely    */
    double l1;        /* L1 penalty weight lambda_1 >= 0                       */
    double l2;        /* L2 penalty weight lambda_2 >= 0 (gradient 2*l2*w)     */
    double weight_decay; /* decoupled decay: w *= 1 - lr * weight_decay        */
    double cum_u;     /* cumulative mode: total L1 penalty per weight so far   */
    int nesterov;     /* Nesterov momentum (PyTorch's formulation)             */
    int l1_mode;      /* enum ir_l1_mode (not PROXIMAL_PRECONDITIONED)         */
} ir_sgd_params;

/* Hyper-parameters of one Adam / AdamW update (the formulas: kernels.inc). */
typedef struct {
    double lr;        /* learning rate, > 0                                    */
    double beta1;     /* first-moment decay in [0, 1)                          */
    double beta2;     /* second-moment decay in [0, 1)                         */
    double eps;       /* added to the denominator, >= 0                        */
    double l1, l2, weight_decay; /* as in ir_sgd_params                        */
    double bias_correction1; /* 1 - beta1^t for the step t being taken         */
    double bias_correction2; /* 1 - beta2^t                                    */
    int amsgrad;      /* divide by the running maximum of the second moment    */
    int l1_mode;      /* enum ir_l1_mode (not CUMULATIVE)                      */
} ir_adam_params;

/* ir_sgd_update prefetches ahead on arrays of at least this many bytes,
 * beyond the caches; on smaller ones the plain loop is faster (kernels.inc,
 * ir_sgd_stream; csrc/README.md). */
#define IR_STREAM_BYTES (16 << 20)

/* ---- vectorised elementary functions (tested error bounds in tests/) ---- */
void ir_exp_f32(const float *x, float *y, size_t n);
void ir_exp_f64(const double *x, double *y, size_t n);
void ir_tanh_f32(const float *x, float *y, size_t n);
void ir_tanh_f64(const double *x, double *y, size_t n);
void ir_sigmoid_f32(const float *x, float *y, size_t n);
void ir_sigmoid_f64(const double *x, double *y, size_t n);

/* ---- dense layer: forward and backward elementwise passes ---------------- */
/* z[i, j] <- f(z[i, j] + b[j]) for a (rows, cols) matrix.                     */
void ir_bias_activation_f32(float *z, const float *b, size_t rows, size_t cols,
                            int activation, float slope);
void ir_bias_activation_f64(double *z, const double *b, size_t rows,
                            size_t cols, int activation, double slope);

/* d[i, j] <- d[i, j] * f'(z[i, j]) with f' computed from a = f(z);
 * colsum[j] <- sum_i d[i, j] (the bias gradient of that layer).              */
void ir_activation_backward_f32(float *d, const float *a, size_t rows,
                                size_t cols, int activation, float slope,
                                float *colsum);
void ir_activation_backward_f64(double *d, const double *a, size_t rows,
                                size_t cols, int activation, double slope,
                                double *colsum);

/* x[b, r, c] <- x[b, r, c] * d[b, c] for b < blocks, r < rows, c < cols: each
 * block's rows scaled by that block's vector (the Jacobian's chain rule).    */
void ir_scale_columns_f32(float *x, const float *d, size_t blocks, size_t rows,
                          size_t cols);
void ir_scale_columns_f64(double *x, const double *d, size_t blocks,
                          size_t rows, size_t cols);

/* ---- output layer fused with its loss ------------------------------------ */
/* Each returns the SUM over the batch of the per-sample loss (in double) and
 * writes dz = d(loss_sum * scale)/dz and colsum[j] = sum_i dz[i, j].
 * *n_correct counts correct predictions (argmax == label, or the sign of the
 * logit against a 0/1 target); mse leaves it untouched.
 *   softmax_xent: loss_i = logsumexp(z_i) - z_i[y_i], integer labels y.
 *   sigmoid_bce:  loss_i = sum_j  max(z,0) - z t + log1p(exp(-|z|)).
 *   mse:          loss_i = sum_j (z - t)^2.                                 */
double ir_softmax_xent_f32(const float *z, const int64_t *labels, float *dz,
                           float *colsum, size_t rows, size_t cols,
                           float scale, int64_t *n_correct);
double ir_softmax_xent_f64(const double *z, const int64_t *labels, double *dz,
                           double *colsum, size_t rows, size_t cols,
                           double scale, int64_t *n_correct);
double ir_sigmoid_bce_f32(const float *z, const float *t, float *dz,
                          float *colsum, size_t rows, size_t cols, float scale,
                          int64_t *n_correct);
double ir_sigmoid_bce_f64(const double *z, const double *t, double *dz,
                          double *colsum, size_t rows, size_t cols,
                          double scale, int64_t *n_correct);
double ir_mse_f32(const float *z, const float *t, float *dz, float *colsum,
                  size_t rows, size_t cols, float scale);
double ir_mse_f64(const double *z, const double *t, double *dz, double *colsum,
                  size_t rows, size_t cols, double scale);

/* Row-wise softmax of a (rows, cols) matrix, in place (inference).           */
void ir_softmax_rows_f32(float *z, size_t rows, size_t cols);
void ir_softmax_rows_f64(double *z, size_t rows, size_t cols);

/* ---- optimiser ------------------------------------------------------------ */
/* One SGD step over n parameters w with gradient g (formulas: kernels.inc).
 * v: velocity (used when momentum > 0), q: applied L1 penalty per weight
 * (used in cumulative mode); either may be NULL when unused.
 * An element whose new value would be NaN or inf keeps its old value (and
 * velocity, applied penalty); the return value counts such elements (0 on a
 * healthy step).                                                            */
size_t ir_sgd_update_f32(float *w, const float *g, float *v, float *q,
                         size_t n, const ir_sgd_params *p);
size_t ir_sgd_update_f64(double *w, const double *g, double *v, double *q,
                         size_t n, const ir_sgd_params *p);

/* One Adam step over n parameters w with gradient g; m, v: the first and
 * second moments, vmax: their running maximum (used with amsgrad, else may
 * be NULL).  The same guard as the SGD update: an element whose new value
 * would not be finite keeps w, m, v and vmax, and is counted.               */
size_t ir_adam_update_f32(float *w, const float *g, float *m, float *v,
                          float *vmax, size_t n, const ir_adam_params *p);
size_t ir_adam_update_f64(double *w, const double *g, double *m, double *v,
                          double *vmax, size_t n, const ir_adam_params *p);

/* Penalty of n weights: *abs_sum = sum|w|, *sq_sum = sum w^2 (in double),
 * *n_zero = the number of weights exactly 0; when g is not NULL, also
 * g += l1 * sign(w) + 2 * l2 * w.                                             */
void ir_penalty_f32(const float *w, float *g, size_t n, double l1, double l2,
                    double *abs_sum, double *sq_sum, size_t *n_zero);
void ir_penalty_f64(const double *w, double *g, size_t n, double l1,
                    double l2, double *abs_sum, double *sq_sum, size_t *n_zero);

/* *sum += sum x, *sumsq += sum x^2, accumulated in double.                   */
void ir_moments_f32(const float *x, size_t n, double *sum, double *sumsq);
void ir_moments_f64(const double *x, size_t n, double *sum, double *sumsq);

/* 1 if all n values are finite (no NaN, no +-inf), else 0.                   */
int ir_all_finite_f32(const float *x, size_t n);
int ir_all_finite_f64(const double *x, size_t n);

/* ---- the model axis (lanes.inc) ---------------------------------------------
 * K models' arrays with the models innermost, K a multiple of 64 bytes of
 * REAL (16 floats, 8 doubles); see lanes.inc for the contracts. */
#define IR_SGD_LANE_K 7   /* rows of the SGD lane constants  */
#define IR_ADAM_LANE_K 11 /* rows of the Adam lane constants */
/* A model's update settings, from ir_*_lane_constants, and whether it trains */
#define IR_LANE_ACTIVE 1
#define IR_LANE_NESTEROV 2 /* SGD */
#define IR_LANE_AMSGRAD 2  /* Adam */
#define IR_LANE_MOMENTUM 4
#define IR_LANE_DECAY 8
#define IR_LANE_L1_SUB 16
#define IR_LANE_L1_PROX 32
#define IR_LANE_L1_OTHER 48 /* SGD's cumulative, Adam's preconditioned */
void ir_lane_gemm_f32(size_t M, size_t N, size_t P, size_t K, const float *a, size_t a_sm,
                      size_t a_sp, int a_lanes, const float *b, size_t b_sp, size_t b_sn,
                      float *c, size_t c_sm, size_t c_sn);
void ir_lane_gemm_f64(size_t M, size_t N, size_t P, size_t K, const double *a, size_t a_sm,
                      size_t a_sp, int a_lanes, const double *b, size_t b_sp, size_t b_sn,
                      double *c, size_t c_sm, size_t c_sn);
void ir_lane_softmax_xent_f32(const float *z, const int64_t *labels, float *dz, float *db,
                              size_t rows, size_t n_out, size_t K, float scale, double *loss,
                              int64_t *correct, double *scratch);
void ir_lane_softmax_xent_f64(const double *z, const int64_t *labels, double *dz,
                              double *db, size_t rows, size_t n_out, size_t K, double scale,
                              double *loss, int64_t *correct, double *scratch);
void ir_lane_sigmoid_bce_f32(const float *z, const float *t, float *dz, float *db,
                             size_t rows, size_t n_out, size_t K, float scale, double *loss,
                             int64_t *correct);
void ir_lane_sigmoid_bce_f64(const double *z, const double *t, double *dz, double *db,
                             size_t rows, size_t n_out, size_t K, double scale, double *loss,
                             int64_t *correct);
void ir_lane_mse_f32(const float *z, const float *t, float *dz, float *db, size_t rows,
                     size_t n_out, size_t K, float scale, double *loss);
void ir_lane_mse_f64(const double *z, const double *t, double *dz, double *db, size_t rows,
                     size_t n_out, size_t K, double scale, double *loss);
void ir_lane_moments_f32(const float *x, size_t n, size_t K, double *sum, double *sumsq);
void ir_lane_norms_f32(const float *x, size_t n, size_t K, double *abs_sum, double *sq_sum,
                       double *zeros);
void ir_lane_norms_f64(const double *x, size_t n, size_t K, double *abs_sum, double *sq_sum,
                       double *zeros);
void ir_lane_moments_f64(const double *x, size_t n, size_t K, double *sum, double *sumsq);
int32_t ir_sgd_lane_constants_f32(const ir_sgd_params *p, float *consts, size_t K, size_t k);
int32_t ir_sgd_lane_constants_f64(const ir_sgd_params *p, double *consts, size_t K, size_t k);
void ir_sgd_update_lanes_f32(float *w, const float *g, float *v, float *q, size_t rows,
                             size_t k0, size_t k1, const float *consts,
                             const int32_t *flags, uint32_t *bad);
void ir_sgd_update_lanes_f64(double *w, const double *g, double *v, double *q, size_t rows,
                             size_t k0, size_t k1, const double *consts,
                             const int32_t *flags, uint32_t *bad);
int32_t ir_adam_lane_constants_f32(const ir_adam_params *p, float *consts, size_t K, size_t k);
int32_t ir_adam_lane_constants_f64(const ir_adam_params *p, double *consts, size_t K, size_t k);
void ir_adam_update_lanes_f32(float *w, const float *g, float *m, float *v, float *vmax,
                              size_t rows, size_t k0, size_t k1, const float *consts,
                              const int32_t *flags, uint32_t *bad);
void ir_adam_update_lanes_f64(double *w, const double *g, double *m, double *v, double *vmax,
                              size_t rows, size_t k0, size_t k1,
                              const double *consts, const int32_t *flags, uint32_t *bad);

#ifdef __cplusplus
}
#endif
#endif /* INITREG_H */
