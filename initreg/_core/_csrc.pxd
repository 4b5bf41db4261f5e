# The C kernels of csrc/initreg.h, declared once, and fused-type dispatchers
# so that Cython code calls one name for float32 and float64.
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint32_t


cdef extern from "initreg.h" nogil:
    enum:
        IR_IDENTITY
        IR_TANH
        IR_SIGMOID
        IR_RELU
        IR_LEAKY_RELU
    enum:
        IR_L1_SUBGRADIENT
        IR_L1_PROXIMAL
        IR_L1_CUMULATIVE
        IR_L1_PROXIMAL_PRECONDITIONED
    enum:
        IR_STREAM_BYTES

    ctypedef struct ir_sgd_params:
        double lr
        double momentum
        double l1
        double l2
        double weight_decay
        double cum_u
        int nesterov
        int l1_mode

    ctypedef struct ir_adam_params:
        double lr
        double beta1
        double beta2
        double eps
        double l1
        double l2
        double weight_decay
        double bias_correction1
        double bias_correction2
        int amsgrad
        int l1_mode

    void ir_exp_f32(const float *x, float *y, size_t n)
    void ir_exp_f64(const double *x, double *y, size_t n)
    void ir_tanh_f32(const float *x, float *y, size_t n)
    void ir_tanh_f64(const double *x, double *y, size_t n)
    void ir_sigmoid_f32(const float *x, float *y, size_t n)
    void ir_sigmoid_f64(const double *x, double *y, size_t n)

    void ir_bias_activation_f32(float *z, const float *b, size_t rows,
                                size_t cols, int activation, float slope)
    void ir_bias_activation_f64(double *z, const double *b, size_t rows,
                                size_t cols, int activation, double slope)
    void ir_activation_backward_f32(float *d, const float *a, size_t rows,
                                    size_t cols, int activation, float slope,
                                    float *colsum)
    void ir_activation_backward_f64(double *d, const double *a, size_t rows,
                                    size_t cols, int activation, double slope,
                                    double *colsum)

    double ir_softmax_xent_f32(const float *z, const int64_t *labels, float *dz,
                               float *colsum, size_t rows, size_t cols,
                               float scale, int64_t *n_correct)
    double ir_softmax_xent_f64(const double *z, const int64_t *labels,
                               double *dz, double *colsum, size_t rows,
                               size_t cols, double scale, int64_t *n_correct)
    double ir_sigmoid_bce_f32(const float *z, const float *t, float *dz,
                              float *colsum, size_t rows, size_t cols,
                              float scale, int64_t *n_correct)
    double ir_sigmoid_bce_f64(const double *z, const double *t, double *dz,
                              double *colsum, size_t rows, size_t cols,
                              double scale, int64_t *n_correct)
    double ir_mse_f32(const float *z, const float *t, float *dz, float *colsum,
                      size_t rows, size_t cols, float scale)
    double ir_mse_f64(const double *z, const double *t, double *dz,
                      double *colsum, size_t rows, size_t cols, double scale)
    void ir_scale_columns_f32(float *x, const float *d, size_t blocks, size_t rows,
                              size_t cols)
    void ir_scale_columns_f64(double *x, const double *d, size_t blocks, size_t rows,
                              size_t cols)
    void ir_softmax_rows_f32(float *z, size_t rows, size_t cols)
    void ir_softmax_rows_f64(double *z, size_t rows, size_t cols)

    size_t ir_sgd_update_f32(float *w, const float *g, float *v, float *q,
                             size_t n, const ir_sgd_params *p)
    size_t ir_sgd_update_f64(double *w, const double *g, double *v, double *q,
                             size_t n, const ir_sgd_params *p)
    size_t ir_adam_update_f32(float *w, const float *g, float *m, float *v,
                              float *vmax, size_t n, const ir_adam_params *p)
    size_t ir_adam_update_f64(double *w, const double *g, double *m, double *v,
                              double *vmax, size_t n, const ir_adam_params *p)
    void ir_penalty_f32(const float *w, float *g, size_t n, double l1,
                        double l2, double *abs_sum, double *sq_sum, size_t *n_zero)
    void ir_penalty_f64(const double *w, double *g, size_t n, double l1,
                        double l2, double *abs_sum, double *sq_sum, size_t *n_zero)
    void ir_moments_f32(const float *x, size_t n, double *sum, double *sumsq)
    void ir_moments_f64(const double *x, size_t n, double *sum, double *sumsq)
    int ir_all_finite_f32(const float *x, size_t n)
    int ir_all_finite_f64(const double *x, size_t n)

    enum:
        IR_SGD_LANE_K
        IR_ADAM_LANE_K
        IR_LANE_ACTIVE
    void ir_lane_gemm_f32(size_t M, size_t N, size_t P, size_t K, const float *a, size_t a_sm,
                          size_t a_sp, int a_lanes, const float *b, size_t b_sp, size_t b_sn,
                          float *c, size_t c_sm, size_t c_sn)
    void ir_lane_gemm_f64(size_t M, size_t N, size_t P, size_t K, const double *a,
                          size_t a_sm, size_t a_sp, int a_lanes, const double *b, size_t b_sp,
                          size_t b_sn, double *c, size_t c_sm, size_t c_sn)
    void ir_lane_softmax_xent_f32(const float *z, const int64_t *labels, float *dz, float *db,
                                  size_t rows, size_t n_out, size_t K, float scale,
                                  double *loss, int64_t *correct, double *scratch)
    void ir_lane_softmax_xent_f64(const double *z, const int64_t *labels, double *dz,
                                  double *db, size_t rows, size_t n_out, size_t K,
                                  double scale, double *loss, int64_t *correct,
                                  double *scratch)
    void ir_lane_sigmoid_bce_f32(const float *z, const float *t, float *dz, float *db,
                                 size_t rows, size_t n_out, size_t K, float scale,
                                 double *loss, int64_t *correct)
    void ir_lane_sigmoid_bce_f64(const double *z, const double *t, double *dz, double *db,
                                 size_t rows, size_t n_out, size_t K, double scale,
                                 double *loss, int64_t *correct)
    void ir_lane_mse_f32(const float *z, const float *t, float *dz, float *db, size_t rows,
                         size_t n_out, size_t K, float scale, double *loss)
    void ir_lane_mse_f64(const double *z, const double *t, double *dz, double *db,
                         size_t rows, size_t n_out, size_t K, double scale, double *loss)
    void ir_lane_moments_f32(const float *x, size_t n, size_t K, double *sum, double *sumsq)
    void ir_lane_norms_f32(const float *x, size_t n, size_t K, double *abs_sum, double *sq_sum,
                           double *zeros)
    void ir_lane_norms_f64(const double *x, size_t n, size_t K, double *abs_sum,
                           double *sq_sum, double *zeros)
    void ir_lane_moments_f64(const double *x, size_t n, size_t K, double *sum,
                             double *sumsq)
    int32_t ir_sgd_lane_constants_f32(const ir_sgd_params *p, float *consts, size_t K, size_t k)
    int32_t ir_sgd_lane_constants_f64(const ir_sgd_params *p, double *consts, size_t K,
                                   size_t k)
    void ir_sgd_update_lanes_f32(float *w, const float *g, float *v, float *q, size_t rows,
                                 size_t k0, size_t k1, const float *consts,
                                 const int32_t *flags, uint32_t *bad)
    void ir_sgd_update_lanes_f64(double *w, const double *g, double *v, double *q,
                                 size_t rows, size_t k0, size_t k1,
                                 const double *consts, const int32_t *flags, uint32_t *bad)
    int32_t ir_adam_lane_constants_f32(const ir_adam_params *p, float *consts, size_t K,
                                    size_t k)
    int32_t ir_adam_lane_constants_f64(const ir_adam_params *p, double *consts, size_t K,
                                    size_t k)
    void ir_adam_update_lanes_f32(float *w, const float *g, float *m, float *v, float *vmax,
                                  size_t rows, size_t k0, size_t k1,
                                  const float *consts, const int32_t *flags, uint32_t *bad)
    void ir_adam_update_lanes_f64(double *w, const double *g, double *m, double *v,
                                  double *vmax, size_t rows, size_t k0, size_t k1,
                                  const double *consts, const int32_t *flags, uint32_t *bad)


# ---- fused dispatchers: one name for both precisions -----------------------

cdef inline void exp_(const floating *x, floating *y, size_t n) noexcept nogil:
    if floating is float:
        ir_exp_f32(x, y, n)
    else:
        ir_exp_f64(x, y, n)


cdef inline void tanh_(const floating *x, floating *y, size_t n) noexcept nogil:
    if floating is float:
        ir_tanh_f32(x, y, n)
    else:
        ir_tanh_f64(x, y, n)


cdef inline void sigmoid_(const floating *x, floating *y, size_t n) noexcept nogil:
    if floating is float:
        ir_sigmoid_f32(x, y, n)
    else:
        ir_sigmoid_f64(x, y, n)


cdef inline void bias_activation(floating *z, const floating *b, size_t rows,
                                 size_t cols, int activation,
                                 floating slope) noexcept nogil:
    if floating is float:
        ir_bias_activation_f32(z, b, rows, cols, activation, slope)
    else:
        ir_bias_activation_f64(z, b, rows, cols, activation, slope)


cdef inline void activation_backward(floating *d, const floating *a,
                                     size_t rows, size_t cols, int activation,
                                     floating slope,
                                     floating *colsum) noexcept nogil:
    if floating is float:
        ir_activation_backward_f32(d, a, rows, cols, activation, slope, colsum)
    else:
        ir_activation_backward_f64(d, a, rows, cols, activation, slope, colsum)


cdef inline double softmax_xent(const floating *z, const int64_t *labels,
                                floating *dz, floating *colsum, size_t rows,
                                size_t cols, floating scale,
                                int64_t *n_correct) noexcept nogil:
    if floating is float:
        return ir_softmax_xent_f32(z, labels, dz, colsum, rows, cols, scale,
                                   n_correct)
    else:
        return ir_softmax_xent_f64(z, labels, dz, colsum, rows, cols, scale,
                                   n_correct)


cdef inline double sigmoid_bce(const floating *z, const floating *t,
                               floating *dz, floating *colsum, size_t rows,
                               size_t cols, floating scale,
                               int64_t *n_correct) noexcept nogil:
    if floating is float:
        return ir_sigmoid_bce_f32(z, t, dz, colsum, rows, cols, scale, n_correct)
    else:
        return ir_sigmoid_bce_f64(z, t, dz, colsum, rows, cols, scale, n_correct)


cdef inline double mse(const floating *z, const floating *t, floating *dz,
                       floating *colsum, size_t rows, size_t cols,
                       floating scale) noexcept nogil:
    if floating is float:
        return ir_mse_f32(z, t, dz, colsum, rows, cols, scale)
    else:
        return ir_mse_f64(z, t, dz, colsum, rows, cols, scale)


cdef inline void scale_columns(floating *x, const floating *d, size_t blocks, size_t rows,
                               size_t cols) noexcept nogil:
    if floating is float:
        ir_scale_columns_f32(x, d, blocks, rows, cols)
    else:
        ir_scale_columns_f64(x, d, blocks, rows, cols)


cdef inline void softmax_rows(floating *z, size_t rows, size_t cols) noexcept nogil:
    if floating is float:
        ir_softmax_rows_f32(z, rows, cols)
    else:
        ir_softmax_rows_f64(z, rows, cols)


cdef inline size_t sgd_update(floating *w, const floating *g, floating *v,
                              floating *q, size_t n,
                              const ir_sgd_params *p) noexcept nogil:
    if floating is float:
        return ir_sgd_update_f32(w, g, v, q, n, p)
    else:
        return ir_sgd_update_f64(w, g, v, q, n, p)


cdef inline size_t adam_update(floating *w, const floating *g, floating *m,
                               floating *v, floating *vmax, size_t n,
                               const ir_adam_params *p) noexcept nogil:
    if floating is float:
        return ir_adam_update_f32(w, g, m, v, vmax, n, p)
    else:
        return ir_adam_update_f64(w, g, m, v, vmax, n, p)


cdef inline void penalty(const floating *w, floating *g, size_t n, double l1,
                         double l2, double *abs_sum, double *sq_sum,
                         size_t *n_zero) noexcept nogil:
    if floating is float:
        ir_penalty_f32(w, g, n, l1, l2, abs_sum, sq_sum, n_zero)
    else:
        ir_penalty_f64(w, g, n, l1, l2, abs_sum, sq_sum, n_zero)


cdef inline void moments(const floating *x, size_t n, double *sum,
                         double *sumsq) noexcept nogil:
    if floating is float:
        ir_moments_f32(x, n, sum, sumsq)
    else:
        ir_moments_f64(x, n, sum, sumsq)



# ---- the model axis (lanes.inc) ----------------------------------------------

cdef inline void lane_gemm(size_t M, size_t N, size_t P, size_t K, const floating *a,
                           size_t a_sm, size_t a_sp, int a_lanes, const floating *b,
                           size_t b_sp, size_t b_sn, floating *c, size_t c_sm,
                           size_t c_sn) noexcept nogil:
    if floating is float:
        ir_lane_gemm_f32(M, N, P, K, a, a_sm, a_sp, a_lanes, b, b_sp, b_sn, c, c_sm, c_sn)
    else:
        ir_lane_gemm_f64(M, N, P, K, a, a_sm, a_sp, a_lanes, b, b_sp, b_sn, c, c_sm, c_sn)


cdef inline void lane_softmax_xent(const floating *z, const int64_t *labels, floating *dz,
                                   floating *db, size_t rows, size_t n_out, size_t K,
                                   floating scale, double *loss, int64_t *correct,
                                   double *scratch) noexcept nogil:
    if floating is float:
        ir_lane_softmax_xent_f32(z, labels, dz, db, rows, n_out, K, scale, loss, correct,
                                 scratch)
    else:
        ir_lane_softmax_xent_f64(z, labels, dz, db, rows, n_out, K, scale, loss, correct,
                                 scratch)


cdef inline void lane_sigmoid_bce(const floating *z, const floating *t, floating *dz,
                                  floating *db, size_t rows, size_t n_out, size_t K,
                                  floating scale, double *loss,
                                  int64_t *correct) noexcept nogil:
    if floating is float:
        ir_lane_sigmoid_bce_f32(z, t, dz, db, rows, n_out, K, scale, loss, correct)
    else:
        ir_lane_sigmoid_bce_f64(z, t, dz, db, rows, n_out, K, scale, loss, correct)


cdef inline void lane_mse(const floating *z, const floating *t, floating *dz, floating *db,
                          size_t rows, size_t n_out, size_t K, floating scale,
                          double *loss) noexcept nogil:
    if floating is float:
        ir_lane_mse_f32(z, t, dz, db, rows, n_out, K, scale, loss)
    else:
        ir_lane_mse_f64(z, t, dz, db, rows, n_out, K, scale, loss)


cdef inline void lane_moments(const floating *x, size_t n, size_t K, double *sum,
                              double *sumsq) noexcept nogil:
    if floating is float:
        ir_lane_moments_f32(x, n, K, sum, sumsq)
    else:
        ir_lane_moments_f64(x, n, K, sum, sumsq)


cdef inline int32_t sgd_lane_constants(const ir_sgd_params *p, floating *consts, size_t K,
                                       size_t k) noexcept nogil:
    if floating is float:
        return ir_sgd_lane_constants_f32(p, consts, K, k)
    else:
        return ir_sgd_lane_constants_f64(p, consts, K, k)


cdef inline void sgd_update_lanes(floating *w, const floating *g, floating *v, floating *q,
                                  size_t rows, size_t k0, size_t k1,
                                  const floating *consts, const int32_t *flags,
                                  uint32_t *bad) noexcept nogil:
    if floating is float:
        ir_sgd_update_lanes_f32(w, g, v, q, rows, k0, k1, consts, flags, bad)
    else:
        ir_sgd_update_lanes_f64(w, g, v, q, rows, k0, k1, consts, flags, bad)


cdef inline int32_t adam_lane_constants(const ir_adam_params *p, floating *consts,
                                        size_t K, size_t k) noexcept nogil:
    if floating is float:
        return ir_adam_lane_constants_f32(p, consts, K, k)
    else:
        return ir_adam_lane_constants_f64(p, consts, K, k)


cdef inline void adam_update_lanes(floating *w, const floating *g, floating *m, floating *v,
                                   floating *vmax, size_t rows, size_t k0,
                                   size_t k1, const floating *consts, const int32_t *flags,
                                   uint32_t *bad) noexcept nogil:
    if floating is float:
        ir_adam_update_lanes_f32(w, g, m, v, vmax, rows, k0, k1, consts, flags, bad)
    else:
        ir_adam_update_lanes_f64(w, g, m, v, vmax, rows, k0, k1, consts, flags, bad)


cdef inline void lane_norms(const floating *x, size_t n, size_t K, double *abs_sum,
                            double *sq_sum, double *zeros) noexcept nogil:
    if floating is float:
        ir_lane_norms_f32(x, n, K, abs_sum, sq_sum, zeros)
    else:
        ir_lane_norms_f64(x, n, K, abs_sum, sq_sum, zeros)
