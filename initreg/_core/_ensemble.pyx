"""The training engine of K networks of one architecture trained together.

The models go in blocks of L, one 64-byte vector (16 float32, 8 float64
models), and every array holds them innermost: in a block, a layer's
weights are (fan_in, fan_out, L), its biases (fan_out, L), its outputs
(rows, fan_out, L).  A block's parameters have the layout of a one-model
:class:`Network`'s -- every weight matrix, then every bias vector -- with
each number replaced by its L copies, so with K = blocks x L lanes,
``params.reshape(blocks, n_params, L)[k // L, :, k % L]`` is model k's flat
parameter vector, and the optimizer buffers likewise.  A step runs block
after block: each block's arrays are small enough to stay in the caches.

A step is, per layer, one model-axis product (csrc/lanes.inc: the SIMD
lanes run over the models), the bias and activation pass of the one-model
engine over (rows, fan_out * K), each model's loss, and the update with
each model's own hyperparameters.  Models see one shared sample order, or
each its own (``orders`` of shape (K, n)); a model whose loss becomes
non-finite, or whose update overflows, is switched off (its parameters left
as they were) and the others go on.

Hyperparameters are passed per model as rows of a float64 table
(:data:`HYPER_COLUMNS`); the engine updates the step count and the
cumulative-L1 total in it, and clears ``active`` for a model that diverged.
Nothing here validates user input: :mod:`initreg.ensemble` does that.
"""
from collections import namedtuple

from cython cimport floating
from libc.math cimport isfinite, pow
from libc.stdint cimport int32_t, int64_t, uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

import numpy as np

from initreg._core cimport _csrc as k
from initreg._core._blas cimport BLAS_Trans, NoTrans, Trans, gemm
from initreg._core._buffer cimport buffer_address
from initreg._core._network import aligned_zeros


cdef extern from "Python.h":
    int PyErr_CheckSignals() nogil


#: The columns of the per-model hyperparameter table (float64, one row per
#: model): the optimizer kind (0 SGD, 1 Adam) and its settings as the
#: one-model engine takes them; ``cum_u`` and ``steps`` are updated in place,
#: ``active`` cleared when a model diverges.
HYPER_COLUMNS = ("kind", "lr", "momentum", "nesterov", "l1", "l2", "weight_decay", "l1_mode",
                 "regularize_bias", "beta1", "beta2", "eps", "amsgrad", "cum_u", "steps",
                 "active")
cdef enum:
    H_KIND, H_LR, H_MOMENTUM, H_NESTEROV, H_L1, H_L2, H_WD, H_L1_MODE, H_REG_BIAS
    H_BETA1, H_BETA2, H_EPS, H_AMSGRAD, H_CUM_U, H_STEPS, H_ACTIVE, N_HYPER

#: Bytes of REAL in one lane vector: K is padded to a multiple of it.
LANE_BYTES = 64
#: The optimizer buffers, named as the one-model OptimizerState's.
BUFFERS = ("velocity", "cumulative", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

cdef enum Loss:
    LOSS_SOFTMAX_XENT = 0
    LOSS_SIGMOID_BCE = 1
    LOSS_MSE = 2

cdef enum:
    N_STATS = 6


cdef struct ELayer:
    int fan_in
    int fan_out
    Py_ssize_t w_off      # W (fan_in, fan_out, L) in a block's parameters
    Py_ssize_t b_off      # b (fan_out, L)
    Py_ssize_t out_off    # outputs (capacity, fan_out, L) in a block's acts, dZ in deltas
    int activation
    double slope


cdef struct Ens:
    # The whole ensemble (K lanes in blocks of L), or one block of it (K = L,
    # every pointer at that block): the passes below work on one block.
    int n_layers
    int loss
    int n_in
    int n_out
    Py_ssize_t K          # lanes: blocks x L, or L in a block
    Py_ssize_t L          # lanes per block, one vector of REAL
    Py_ssize_t blocks
    Py_ssize_t n_params   # per model
    Py_ssize_t capacity   # rows of the workspace
    Py_ssize_t out_width  # sum of the layers' fan_out
    ELayer *layers
    void *params          # (blocks, n_params, L)
    void *grads
    void *acts            # (blocks, capacity, out_width, L): every layer's outputs
    void *deltas          # the same for dZ
    void *x               # the batch: (capacity, n_in), or (blocks, capacity, n_in, L)
    void *targets         # (blocks, capacity, L) labels, or (blocks, capacity, n_out, L)
    double *scratch       # 5 L doubles for the softmax
    bint own_inputs       # each model its own rows


cdef struct EOpt:
    double *hyper         # (K, N_HYPER)
    Py_ssize_t sgd0, sgd1, adam0, adam1  # the lanes of each kind
    void *velocity        # each (blocks, n_params, L)
    void *cumq
    void *exp_avg
    void *exp_avg_sq
    void *vmax
    void *consts          # (blocks, 2 (IR_SGD_LANE_K + IR_ADAM_LANE_K), L): per block
                          # the constants of the SGD weights, SGD biases, Adam
                          # weights and Adam biases, in that order
    int32_t *flags_w      # per model: IR_LANE_* settings of the weights' update
    int32_t *flags_b      # ... of the biases'; 0 for a model switched off
    uint32_t *bad         # non-finite results of the step, per model


# The first layer's products go to BLAS, over the block's weights side by
# side ((n_in, fan_out x L): L models in one product), from this many inputs
# shared by the models; below it, the lanes' own kernel is faster.
cdef int BLAS_MIN_INPUTS = 16
# ... in slices of columns of at most this many multiply-adds each: OpenBLAS
# runs products this small without packing its operands, which costs more
# than it saves when the batch has a few dozen rows.
cdef Py_ssize_t BLAS_SLICE = 1 << 19


cdef inline void sliced_gemm(BLAS_Trans ta, Py_ssize_t m, Py_ssize_t n, Py_ssize_t inner,
                             const floating *a, Py_ssize_t lda, const floating *b,
                             floating *c) noexcept nogil:
    """c = op(a) b, c (m, n) and b (inner, n) row-major with row stride n,
    in slices of columns: a multiple of 16 within BLAS_SLICE, or all of them
    where 16 are more (packing then pays)."""
    cdef Py_ssize_t step = BLAS_SLICE // max(m * inner, 1) // 16 * 16
    cdef Py_ssize_t j = 0
    if step == 0:
        step = n
    while j < n:
        gemm(ta, NoTrans, m, min(step, n - j), inner, <floating> 1, a, lda, b + j, n,
             <floating> 0, c + j, n)
        j += step


cdef struct Totals:
    double *loss_sum      # per model: sum over batches of mean loss x rows
    int64_t *correct      # per model
    Py_ssize_t seen
    Py_ssize_t steps


# ---- one block of models -------------------------------------------------------

cdef void block_of(const Ens *e, const EOpt *o, Py_ssize_t kb, Ens *b, EOpt *bo,
                   size_t item) noexcept nogil:
    """b, bo: block kb of e, o -- K = L lanes, every pointer at the block."""
    cdef Py_ssize_t L = e.L
    cdef Py_ssize_t params = e.n_params * L * item
    cdef Py_ssize_t work = e.capacity * e.out_width * L * item
    cdef Py_ssize_t lo = kb * L, hi = kb * L + L
    b[0] = e[0]
    b.K = L
    b.blocks = 1
    b.params = <char *> e.params + kb * params
    b.grads = <char *> e.grads + kb * params
    b.acts = <char *> e.acts + kb * work
    b.deltas = <char *> e.deltas + kb * work
    if e.own_inputs:
        b.x = <char *> e.x + kb * e.capacity * e.n_in * L * item
    if e.loss == LOSS_SOFTMAX_XENT:
        b.targets = <char *> e.targets + kb * e.capacity * L * 8
    else:
        b.targets = <char *> e.targets + kb * e.capacity * e.n_out * L * item
    bo[0] = o[0]
    bo.hyper = o.hyper + lo * N_HYPER
    bo.velocity = <char *> o.velocity + kb * params
    bo.cumq = <char *> o.cumq + kb * params
    bo.exp_avg = <char *> o.exp_avg + kb * params
    bo.exp_avg_sq = <char *> o.exp_avg_sq + kb * params
    bo.vmax = <char *> o.vmax + kb * params
    bo.consts = <char *> o.consts + kb * 2 * (k.IR_SGD_LANE_K + k.IR_ADAM_LANE_K) * L * item
    bo.flags_w = o.flags_w + lo
    bo.flags_b = o.flags_b + lo
    bo.bad = o.bad + lo
    bo.sgd0 = min(max(o.sgd0, lo), hi) - lo
    bo.sgd1 = min(max(o.sgd1, lo), hi) - lo
    bo.adam0 = min(max(o.adam0, lo), hi) - lo
    bo.adam1 = min(max(o.adam1, lo), hi) - lo


# ---- the compiled passes, on one block ------------------------------------------

cdef void forward(Ens *e, floating *P, int rows) noexcept nogil:
    cdef floating *A = <floating *> e.acts
    cdef const floating *inp = <const floating *> e.x
    cdef Py_ssize_t K = e.K
    cdef ELayer *L
    cdef int l
    for l in range(e.n_layers):
        L = &e.layers[l]
        if l == 0:
            if e.own_inputs:
                k.lane_gemm(rows, L.fan_out, L.fan_in, K, inp, L.fan_in * K, K, 1,
                            P + L.w_off, L.fan_out * K, K, A + L.out_off, L.fan_out * K, K)
            elif L.fan_in >= BLAS_MIN_INPUTS:
                sliced_gemm(NoTrans, rows, L.fan_out * K, L.fan_in, inp, L.fan_in, P + L.w_off,
                            A + L.out_off)
            else:
                k.lane_gemm(rows, L.fan_out, L.fan_in, K, inp, L.fan_in, 1, 0,
                            P + L.w_off, L.fan_out * K, K, A + L.out_off, L.fan_out * K, K)
        else:
            k.lane_gemm(rows, L.fan_out, L.fan_in, K, A + e.layers[l - 1].out_off,
                        L.fan_in * K, K, 1, P + L.w_off, L.fan_out * K, K, A + L.out_off,
                        L.fan_out * K, K)
        k.bias_activation(A + L.out_off, P + L.b_off, rows, L.fan_out * K, L.activation,
                          <floating> L.slope)


cdef void output_loss(Ens *e, floating *A, int rows, double *loss,
                      int64_t *correct) noexcept nogil:
    """Each model's summed loss over the rows into loss (zeroed first); dZ
    and db of the last layer (scaled for the mean)."""
    cdef ELayer *L = &e.layers[e.n_layers - 1]
    cdef floating *z = A + L.out_off
    cdef floating *dz = <floating *> e.deltas + L.out_off
    cdef floating *db = <floating *> e.grads + L.b_off
    memset(loss, 0, e.K * sizeof(double))
    if e.loss == LOSS_SOFTMAX_XENT:
        k.lane_softmax_xent(z, <const int64_t *> e.targets, dz, db, rows, e.n_out, e.K,
                            <floating> (1.0 / rows), loss, correct, e.scratch)
    elif e.loss == LOSS_SIGMOID_BCE:
        k.lane_sigmoid_bce(z, <const floating *> e.targets, dz, db, rows, e.n_out, e.K,
                           <floating> (1.0 / (<double> rows * e.n_out)), loss, correct)
    else:
        k.lane_mse(z, <const floating *> e.targets, dz, db, rows, e.n_out, e.K,
                   <floating> (1.0 / (<double> rows * e.n_out)), loss)


cdef void prepare_step(Ens *e, EOpt *o, floating *consts, bint first) noexcept nogil:
    """Every active model's constants for the coming step, from its row of
    the table, as the one-model engine computes them: the cumulative L1
    total and the step count advance first, then Adam's bias corrections.
    An SGD model's other constants change only between epochs (the
    learning rate), so they are computed on the ``first`` step alone."""
    cdef Py_ssize_t K = e.K, j
    cdef floating *sgd_w = consts
    cdef floating *sgd_b = consts + k.IR_SGD_LANE_K * K
    cdef floating *adam_w = consts + 2 * k.IR_SGD_LANE_K * K
    cdef floating *adam_b = adam_w + k.IR_ADAM_LANE_K * K
    cdef double *h
    cdef k.ir_sgd_params s
    cdef k.ir_adam_params a
    for j in range(K):
        h = o.hyper + j * N_HYPER
        if h[H_ACTIVE] == 0:
            o.flags_w[j] = 0
            o.flags_b[j] = 0
            continue
        if h[H_KIND] == 0 and not first and not (
                <int> h[H_L1_MODE] == k.IR_L1_CUMULATIVE and h[H_L1] != 0):
            h[H_STEPS] += 1
            continue
        if h[H_KIND] == 0:
            s.lr = h[H_LR]
            s.momentum = h[H_MOMENTUM]
            s.nesterov = <int> h[H_NESTEROV]
            s.l1 = h[H_L1]
            s.l2 = h[H_L2]
            s.weight_decay = h[H_WD]
            s.l1_mode = <int> h[H_L1_MODE]
            if s.l1_mode == k.IR_L1_CUMULATIVE and s.l1 != 0:
                h[H_CUM_U] += s.lr * s.l1
            s.cum_u = h[H_CUM_U]
            h[H_STEPS] += 1
            o.flags_w[j] = k.sgd_lane_constants(&s, sgd_w, K, j) | k.IR_LANE_ACTIVE
            if h[H_REG_BIAS] == 0:
                s.l1 = 0
                s.l2 = 0
                s.weight_decay = 0
                s.l1_mode = k.IR_L1_SUBGRADIENT
            o.flags_b[j] = k.sgd_lane_constants(&s, sgd_b, K, j) | k.IR_LANE_ACTIVE
        else:
            h[H_STEPS] += 1
            a.lr = h[H_LR]
            a.beta1 = h[H_BETA1]
            a.beta2 = h[H_BETA2]
            a.eps = h[H_EPS]
            a.l1 = h[H_L1]
            a.l2 = h[H_L2]
            a.weight_decay = h[H_WD]
            a.amsgrad = <int> h[H_AMSGRAD]
            a.l1_mode = <int> h[H_L1_MODE]
            a.bias_correction1 = 1.0 - pow(a.beta1, h[H_STEPS])
            a.bias_correction2 = 1.0 - pow(a.beta2, h[H_STEPS])
            o.flags_w[j] = k.adam_lane_constants(&a, adam_w, K, j) | k.IR_LANE_ACTIVE
            if h[H_REG_BIAS] == 0:
                a.l1 = 0
                a.l2 = 0
                a.weight_decay = 0
                a.l1_mode = k.IR_L1_SUBGRADIENT
            o.flags_b[j] = k.adam_lane_constants(&a, adam_b, K, j) | k.IR_LANE_ACTIVE


cdef inline void update_block(EOpt *o, Py_ssize_t K, floating *w, const floating *g,
                              Py_ssize_t off, Py_ssize_t rows, bint bias) noexcept nogil:
    """The update of ``rows`` rows of one block's K = L lanes at element
    offset ``off``."""
    cdef floating *c = <floating *> o.consts
    cdef int32_t *flags = o.flags_b if bias else o.flags_w
    if o.sgd1 > o.sgd0:
        k.sgd_update_lanes(w + off, g + off, <floating *> o.velocity + off,
                           <floating *> o.cumq + off, rows, o.sgd0, o.sgd1,
                           c + (k.IR_SGD_LANE_K * K if bias else 0), flags, o.bad)
    if o.adam1 > o.adam0:
        c += 2 * k.IR_SGD_LANE_K * K
        k.adam_update_lanes(w + off, g + off, <floating *> o.exp_avg + off,
                            <floating *> o.exp_avg_sq + off, <floating *> o.vmax + off,
                            rows, o.adam0, o.adam1, c + (k.IR_ADAM_LANE_K * K if bias else 0),
                            flags, o.bad)


cdef void backward(Ens *e, floating *P, int rows, EOpt *o) noexcept nogil:
    """dW = A^T dZ per model, dZ' = (dZ W^T) * f'(A) with db' fused, and each
    layer's update as soon as W has served (see the one-model engine)."""
    cdef floating *G = <floating *> e.grads
    cdef floating *A = <floating *> e.acts
    cdef floating *D = <floating *> e.deltas
    cdef const floating *x = <const floating *> e.x
    cdef Py_ssize_t K = e.K
    cdef ELayer *L
    cdef ELayer *below
    cdef int l
    for l in range(e.n_layers - 1, -1, -1):
        L = &e.layers[l]
        if l == 0:
            if e.own_inputs:
                k.lane_gemm(L.fan_in, L.fan_out, rows, K, x, K, L.fan_in * K, 1,
                            D + L.out_off, L.fan_out * K, K, G + L.w_off, L.fan_out * K, K)
            elif L.fan_in >= BLAS_MIN_INPUTS:
                sliced_gemm(Trans, L.fan_in, L.fan_out * K, rows, x, L.fan_in, D + L.out_off,
                            G + L.w_off)
            else:
                k.lane_gemm(L.fan_in, L.fan_out, rows, K, x, 1, L.fan_in, 0,
                            D + L.out_off, L.fan_out * K, K, G + L.w_off, L.fan_out * K, K)
        else:
            below = &e.layers[l - 1]
            k.lane_gemm(L.fan_in, L.fan_out, rows, K, A + below.out_off, K, L.fan_in * K, 1,
                        D + L.out_off, L.fan_out * K, K, G + L.w_off, L.fan_out * K, K)
            k.lane_gemm(rows, L.fan_in, L.fan_out, K, D + L.out_off, L.fan_out * K, K, 1,
                        P + L.w_off, K, L.fan_out * K, D + below.out_off, L.fan_in * K, K)
            k.activation_backward(D + below.out_off, A + below.out_off, rows,
                                  below.fan_out * K, below.activation, <floating> below.slope,
                                  G + below.b_off)
        update_block(o, K, P, G, L.w_off, <Py_ssize_t> L.fan_in * L.fan_out, False)
        update_block(o, K, P, G, L.b_off, L.fan_out, True)


cdef void record_stats(Ens *e, floating *A, int rows, double *stats,
                       Py_ssize_t stride) noexcept nogil:
    """Adds the block's models' per-layer sums (STAT_COLUMNS of the one-model
    engine) to stats, rows of ``stride`` doubles (n_layers, 6, stride)."""
    cdef floating *D = <floating *> e.deltas
    cdef floating *G = <floating *> e.grads
    cdef Py_ssize_t K = e.K
    cdef ELayer *L
    cdef double *s
    cdef int l
    for l in range(e.n_layers):
        L = &e.layers[l]
        s = stats + N_STATS * stride * l
        k.lane_moments(A + L.out_off, <size_t> rows * L.fan_out, K, s, s + stride)
        k.lane_moments(D + L.out_off, <size_t> rows * L.fan_out, K, s + 2 * stride,
                       s + 3 * stride)
        k.lane_moments(G + L.w_off, <size_t> L.fan_in * L.fan_out, K, s + 4 * stride,
                       s + 5 * stride)


cdef void gather(Ens *e, const floating *X, const void *T, const int64_t *order,
                 Py_ssize_t n, Py_ssize_t start, int rows) noexcept nogil:
    """The batch of rows order[start:start + rows] -- one order shared, or
    lane j's own in row j of ``order`` (K, n) -- into the workspace."""
    cdef floating *x = <floating *> e.x
    cdef int64_t *labels = <int64_t *> e.targets
    cdef floating *t = <floating *> e.targets
    cdef const int64_t *y = <const int64_t *> T
    cdef const floating *Tf = <const floating *> T
    cdef Py_ssize_t L = e.L, r, i, j, c, kb, src
    cdef int n_in = e.n_in, n_out = e.n_out
    cdef Py_ssize_t xb = e.capacity * n_in * L
    cdef Py_ssize_t tb = e.capacity * L * (1 if e.loss == LOSS_SOFTMAX_XENT else n_out)
    for r in range(rows):
        if not e.own_inputs:
            src = order[start + r]
            memcpy(x + r * n_in, X + src * n_in, n_in * sizeof(floating))
        for kb in range(e.blocks):
            for j in range(L):
                if e.own_inputs:
                    src = order[(kb * L + j) * n + start + r]
                    for i in range(n_in):
                        x[kb * xb + (r * n_in + i) * L + j] = X[src * n_in + i]
                if e.loss == LOSS_SOFTMAX_XENT:
                    labels[kb * tb + r * L + j] = y[src]
                else:
                    for c in range(n_out):
                        t[kb * tb + (r * n_out + c) * L + j] = Tf[src * n_out + c]


cdef double now() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec + 1e-9 * t.tv_nsec


# Seconds between two looks at Python's signal handlers: taking the GIL
# costs about a microsecond, as much as a whole step of small models.
cdef double SIGNAL_INTERVAL = 0.01


cdef bint train_epoch(Ens *e, EOpt *o, const floating *X, const void *T,
                      const int64_t *order, Py_ssize_t n, int batch, bint check_signals,
                      double *stats, double *batch_losses, double *step_loss,
                      Totals *tot) noexcept nogil:
    """Minibatch training over n rows; returns False when a signal handler
    raised between two batches.  batch_losses (n_batches, K)."""
    cdef Py_ssize_t start = 0, K = e.K, L = e.L, j, kb
    cdef int rows
    cdef double *h
    cdef double last_look = now()
    cdef Ens b
    cdef EOpt bo
    while start < n:
        rows = <int> min(<Py_ssize_t> batch, n - start)
        gather(e, X, T, order, n, start, rows)
        start += rows
        for kb in range(e.blocks):
            block_of(e, o, kb, &b, &bo, sizeof(floating))
            forward(&b, <floating *> b.params, rows)
            output_loss(&b, <floating *> b.acts, rows, step_loss + kb * L,
                        tot.correct + kb * L)
            for j in range(L):
                h = bo.hyper + j * N_HYPER
                step_loss[kb * L + j] /= rows
                if h[H_ACTIVE] != 0 and not isfinite(step_loss[kb * L + j]):
                    h[H_ACTIVE] = 0  # diverged: its parameters stay as they are
            prepare_step(&b, &bo, <floating *> bo.consts, tot.steps == 0)
            memset(bo.bad, 0, L * sizeof(uint32_t))
            backward(&b, <floating *> b.params, rows, &bo)
            if stats != NULL:
                record_stats(&b, <floating *> b.acts, rows, stats + kb * L, K)
        for j in range(K):
            if o.bad[j] != 0:
                o.hyper[j * N_HYPER + H_ACTIVE] = 0  # an update overflowed
            tot.loss_sum[j] += step_loss[j] * rows
            batch_losses[tot.steps * K + j] = step_loss[j]
        tot.seen += rows
        tot.steps += 1
        if check_signals and now() - last_look >= SIGNAL_INTERVAL:
            last_look = now()
            with gil:
                if PyErr_CheckSignals() != 0:
                    return False
    return True


cdef void lane_norms(Ens *e, floating *P, double *out) noexcept nogil:
    """Per lane, out (6, K): |w| sum, w^2 sum and zero count of the weights,
    then the same of the biases."""
    cdef Py_ssize_t K = e.K, L = e.L, kb
    cdef Py_ssize_t weights = e.layers[0].b_off // L
    for kb in range(e.blocks):
        k.lane_norms(P + kb * e.n_params * L, weights, L, out + kb * L, out + K + kb * L,
                     out + 2 * K + kb * L)
        k.lane_norms(P + kb * e.n_params * L + weights * L, e.n_params - weights, L,
                     out + 3 * K + kb * L, out + 4 * K + kb * L, out + 5 * K + kb * L)


cdef void predict_logits(Ens *e, const floating *X, Py_ssize_t n, floating *out) noexcept nogil:
    """The last layer's outputs (blocks, n, n_out, L) for the rows of X."""
    cdef Py_ssize_t start = 0, L = e.L, kb
    cdef int rows
    cdef ELayer *top = &e.layers[e.n_layers - 1]
    cdef bint own = e.own_inputs
    cdef Ens b
    cdef EOpt o, bo
    memset(&o, 0, sizeof(EOpt))
    e.own_inputs = False
    while start < n:
        rows = <int> min(e.capacity, n - start)
        memcpy(e.x, X + start * e.n_in, rows * e.n_in * sizeof(floating))
        for kb in range(e.blocks):
            block_of(e, &o, kb, &b, &bo, sizeof(floating))
            forward(&b, <floating *> b.params, rows)
            memcpy(out + (kb * n + start) * e.n_out * L, <floating *> b.acts + top.out_off,
                   rows * e.n_out * L * sizeof(floating))
        start += rows
    e.own_inputs = own


# ---- the Python-facing engine ----------------------------------------------

cdef inline void *_address(object a, Py_ssize_t nbytes, bint writable,
                           char kind) except NULL:
    return buffer_address(a, nbytes, writable, kind)


def lanes_for(Py_ssize_t n_models, bint double):
    """K: n_models rounded up to whole vectors of models."""
    cdef Py_ssize_t width = LANE_BYTES // (8 if double else 4)
    return (n_models + width - 1) // width * width


cdef class EnsembleNetwork:
    """Parameters, gradients, optimizer buffers and workspace of K models.

    Parameters
    ----------
    layer_sizes, activations, slopes, loss, double
        As :class:`initreg._core._network.Network`'s.
    n_models : int
        The models; the lanes are padded to :func:`lanes_for` (the padding
        lanes are computed and never used).
    """
    cdef Ens e
    cdef EOpt o
    cdef readonly bint is_f64
    cdef readonly object dtype
    cdef readonly Py_ssize_t n_models
    cdef readonly Py_ssize_t lanes
    cdef readonly Py_ssize_t block
    cdef readonly Py_ssize_t n_params
    cdef readonly object params
    cdef readonly object grads
    cdef readonly dict buffers
    cdef readonly object hyper
    cdef object _work, _consts
    cdef Py_ssize_t _out_width
    cdef char _kind

    def __cinit__(self, layer_sizes, activations, slopes, int loss, bint double,
                  Py_ssize_t n_models):
        sizes = [int(s) for s in layer_sizes]
        cdef int n_layers = len(sizes) - 1, l
        cdef Py_ssize_t K = lanes_for(n_models, double)
        self.o.flags_w = NULL
        self.o.bad = NULL
        self.e.scratch = NULL
        self.e.layers = <ELayer *> malloc(max(n_layers, 1) * sizeof(ELayer))
        if self.e.layers == NULL:
            raise MemoryError()
        self.e.n_layers = n_layers
        self.e.loss = loss
        self.e.n_in = sizes[0]
        self.e.n_out = sizes[n_layers]
        self.e.K = K
        self.e.L = LANE_BYTES // (8 if double else 4)
        self.e.blocks = K // self.e.L
        self.e.capacity = 0
        self.e.own_inputs = False
        self.n_models = n_models
        self.lanes = K
        self.block = self.e.L
        self.is_f64 = double
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self._kind = b"d" if double else b"f"
        cdef Py_ssize_t w_off = 0, out = 0
        cdef ELayer *L
        for l in range(n_layers):
            L = &self.e.layers[l]
            L.fan_in = sizes[l]
            L.fan_out = sizes[l + 1]
            L.w_off = w_off * self.e.L
            L.activation = k.IR_IDENTITY if l == n_layers - 1 else activations[l]
            L.slope = slopes[l]
            w_off += <Py_ssize_t> L.fan_in * L.fan_out
        for l in range(n_layers):
            L = &self.e.layers[l]
            L.b_off = w_off * self.e.L
            w_off += L.fan_out
            out += L.fan_out
        self._out_width = out
        self.e.out_width = out
        self.n_params = w_off
        self.e.n_params = w_off
        self.params = aligned_zeros(w_off * K, self.dtype)
        self.grads = aligned_zeros(w_off * K, self.dtype)
        self.e.params = _address(self.params, self.params.nbytes, True, self._kind)
        self.e.grads = _address(self.grads, self.grads.nbytes, True, self._kind)
        self.buffers = {name: aligned_zeros(w_off * K, self.dtype) for name in BUFFERS}
        self.o.velocity = _address(self.buffers["velocity"], w_off * K * self.dtype.itemsize,
                                   True, self._kind)
        self.o.cumq = _address(self.buffers["cumulative"], w_off * K * self.dtype.itemsize,
                               True, self._kind)
        self.o.exp_avg = _address(self.buffers["exp_avg"], w_off * K * self.dtype.itemsize,
                                  True, self._kind)
        self.o.exp_avg_sq = _address(self.buffers["exp_avg_sq"],
                                     w_off * K * self.dtype.itemsize, True, self._kind)
        self.o.vmax = _address(self.buffers["max_exp_avg_sq"], w_off * K * self.dtype.itemsize,
                               True, self._kind)
        self.hyper = np.zeros((K, N_HYPER))
        self.o.hyper = <double *> _address(self.hyper, K * N_HYPER * 8, True, b"d")
        self._consts = aligned_zeros(2 * (k.IR_SGD_LANE_K + k.IR_ADAM_LANE_K) * K, self.dtype)
        self.o.consts = _address(self._consts, self._consts.nbytes, True, self._kind)
        self.o.flags_w = <int32_t *> malloc(2 * K * sizeof(int32_t))
        self.o.bad = <uint32_t *> malloc(K * sizeof(uint32_t))
        self.e.scratch = <double *> malloc(5 * self.e.L * sizeof(double))
        if self.o.flags_w == NULL or self.o.bad == NULL or self.e.scratch == NULL:
            raise MemoryError()
        self.o.flags_b = self.o.flags_w + K
        self.o.sgd0 = self.o.sgd1 = self.o.adam0 = self.o.adam1 = 0

    def __dealloc__(self):
        free(self.e.layers)
        free(self.o.flags_w)
        free(self.o.bad)
        free(self.e.scratch)

    def set_kinds(self, Py_ssize_t n_sgd, Py_ssize_t n_adam):
        """Lanes [0, n_sgd) train with SGD, the next n_adam with Adam."""
        if n_sgd < 0 or n_adam < 0 or n_sgd + n_adam > self.e.K:
            raise ValueError(f"{n_sgd} + {n_adam} models in {self.e.K} lanes")
        self.o.sgd0, self.o.sgd1 = 0, n_sgd
        self.o.adam0, self.o.adam1 = n_sgd, n_sgd + n_adam

    def workspace_bytes(self, Py_ssize_t rows, bint own_inputs=True):
        """Bytes the workspace needs for ``rows`` rows."""
        cdef Py_ssize_t K = self.e.K
        cdef Py_ssize_t per_row = 2 * self._out_width * K + self.e.n_in * (K if own_inputs
                                                                            else 1)
        per_row *= self.dtype.itemsize
        per_row += K * (8 if self.e.loss == LOSS_SOFTMAX_XENT
                        else self.e.n_out * self.dtype.itemsize)
        return rows * per_row

    cdef int _reserve(self, Py_ssize_t rows) except -1:
        """A workspace of at least ``rows`` rows, for inputs of every model."""
        if rows <= self.e.capacity:
            return 0
        cdef Py_ssize_t K = self.e.K, L = self.e.L, out = 0
        cdef int l
        for l in range(self.e.n_layers):
            self.e.layers[l].out_off = out * rows * L
            out += self.e.layers[l].fan_out
        acts = aligned_zeros(rows * self._out_width * K, self.dtype)
        deltas = aligned_zeros(rows * self._out_width * K, self.dtype)
        x = aligned_zeros(rows * self.e.n_in * K, self.dtype)
        if self.e.loss == LOSS_SOFTMAX_XENT:
            targets = aligned_zeros(rows * K, np.int64)
        else:
            targets = aligned_zeros(rows * self.e.n_out * K, self.dtype)
        self._work = (acts, deltas, x, targets)
        self.e.acts = _address(acts, acts.nbytes, True, self._kind)
        self.e.deltas = _address(deltas, deltas.nbytes, True, self._kind)
        self.e.x = _address(x, x.nbytes, True, self._kind)
        self.e.targets = _address(targets, targets.nbytes, True,
                                  b"q" if self.e.loss == LOSS_SOFTMAX_XENT else self._kind)
        self.e.capacity = rows
        return 0

    def train_epoch(self, X, T, orders, int batch_size, stats=None, bint check_signals=False):
        """Minibatch training over the rows ``orders`` of (X, T): one order
        (n,) for every model, or one per lane (K, n).

        stats : float64 (n_layers, 6, K) or None: each model's per-layer
            sums are added to it.
        Returns an :data:`EnsembleEpoch`: completed (False when a signal
        handler raised: its exception is then pending and raised here), each
        model's summed loss and correct predictions, samples seen, steps, and
        the loss of every step (steps, K).
        """
        cdef Py_ssize_t K = self.e.K
        cdef Py_ssize_t n = orders.shape[orders.ndim - 1]
        cdef Py_ssize_t n_rows = len(X)
        cdef Py_ssize_t n_batches = (n + batch_size - 1) // batch_size
        loss_sum = np.zeros(K)
        correct = np.zeros(K, np.int64)
        batch_losses = np.full((n_batches, K), np.nan)
        step_loss = np.zeros(K)
        cdef Totals tot
        tot.loss_sum = <double *> _address(loss_sum, K * 8, True, b"d")
        tot.correct = <int64_t *> _address(correct, K * 8, True, b"q")
        tot.seen = 0
        tot.steps = 0
        cdef double *bl = <double *> _address(batch_losses, n_batches * K * 8, True, b"d")
        cdef double *sl = <double *> _address(step_loss, K * 8, True, b"d")
        cdef double *sp = NULL
        if stats is not None:
            sp = <double *> _address(stats, self.e.n_layers * N_STATS * K * 8, True, b"d")
        cdef const void *xp = _address(X, n_rows * self.e.n_in * self.dtype.itemsize, False,
                                       self._kind)
        cdef const void *tp
        if self.e.loss == LOSS_SOFTMAX_XENT:
            tp = _address(T, n_rows * 8, False, b"q")
        else:
            tp = _address(T, n_rows * self.e.n_out * self.dtype.itemsize, False, self._kind)
        cdef bint own = orders.ndim == 2
        cdef const int64_t *op = <const int64_t *> _address(orders, (K if own else 1) * n * 8,
                                                            False, b"q")
        self._reserve(batch_size)
        self.e.own_inputs = own
        cdef bint done
        with nogil:
            if self.is_f64:
                done = train_epoch(&self.e, &self.o, <const double *> xp, tp, op, n,
                                   batch_size, check_signals, sp, bl, sl, &tot)
            else:
                done = train_epoch(&self.e, &self.o, <const float *> xp, tp, op, n,
                                   batch_size, check_signals, sp, bl, sl, &tot)
        self.e.own_inputs = False
        if not done:
            _raise_pending()
        return EnsembleEpoch(loss_sum, correct, tot.seen, tot.steps,
                             batch_losses[:tot.steps])

    def norms(self):
        """(6, K) float64: per lane, the sum of |w|, the sum of w^2 and the
        count of zeros of the weights, then the same of the biases."""
        out = np.zeros((6, self.e.K))
        cdef double *op = <double *> _address(out, out.nbytes, True, b"d")
        with nogil:
            if self.is_f64:
                lane_norms(&self.e, <double *> self.e.params, op)
            else:
                lane_norms(&self.e, <float *> self.e.params, op)
        return out

    def logits(self, X, out):
        """Writes every model's last-layer outputs into out, (blocks, n,
        n_out, L): model k's are ``out[k // L, :, :, k % L]``."""
        cdef Py_ssize_t n = len(X)
        cdef const void *xp = _address(X, n * self.e.n_in * self.dtype.itemsize, False,
                                       self._kind)
        cdef void *op = _address(out, n * self.e.n_out * self.e.K * self.dtype.itemsize,
                                 True, self._kind)
        self._reserve(min(n, 256))
        with nogil:
            if self.is_f64:
                predict_logits(&self.e, <const double *> xp, n, <double *> op)
            else:
                predict_logits(&self.e, <const float *> xp, n, <float *> op)


#: What :meth:`EnsembleNetwork.train_epoch` returns.
EnsembleEpoch = namedtuple("EnsembleEpoch", "loss_sum correct seen steps batch_losses")


cdef int _raise_pending() except -1:
    # The error indicator is already set (by a signal handler).
    return -1
