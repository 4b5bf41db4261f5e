"""The training engine of a dense network (multi-layer perceptron).

A :class:`Network` owns one flat parameter buffer (every weight matrix, then
every bias vector), a gradient buffer of the same layout and a workspace of
activations and deltas sized for a batch capacity, allocated once and
reused.  An :class:`OptimizerState` holds what an optimiser keeps between
steps (hyperparameters as the kernels take them, the step count, the
velocity and L1 buffers); it belongs to the optimiser, and the engine
updates it in place.  The Network's methods run the forward pass, the loss,
the backward pass and the fused update -- one training step, or a whole
epoch of minibatch training -- as one compiled call with the GIL released.

Layer l maps (rows, fan_in) to (rows, fan_out): Z = A W + b with W of shape
(fan_in, fan_out), row-major, as scikit-learn's ``coefs_``.

Nothing here validates user input: :mod:`initreg.model` does that (label
values and row indices included: they are trusted).  The engine only checks
that each buffer it is handed has the item type and byte size it expects, and
refuses a second call while one is running on the same network or state.
"""
import itertools
from collections import namedtuple

from cython cimport floating
from libc.math cimport isfinite, pow
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

import numpy as np

from initreg._core cimport _csrc as k
from initreg._core._buffer cimport buffer_address
from initreg._core._blas cimport NoTrans, Trans, gemm


cdef extern from "Python.h":
    # Declared without an exception spec: the epoch loop looks at the -1
    # itself and stops cleanly, leaving the KeyboardInterrupt pending.
    int PyErr_CheckSignals()

cdef extern from "pythread.h":
    unsigned long PyThread_get_thread_ident()


cdef struct Guard:
    # Who may use a network or an optimizer state: one thread at a time, as
    # often as it likes (MLP.fit holds its model for the whole run and the
    # engine calls it makes enter again).  Taken and checked holding the
    # GIL, so two threads cannot both get past it.
    unsigned long owner
    int depth             # 0: free


cdef int guard_enter(Guard *g, str refusal) except -1:
    cdef unsigned long me = PyThread_get_thread_ident()
    if g.depth and g.owner != me:
        raise RuntimeError(refusal)
    g.owner = me
    g.depth += 1
    return 0


cdef inline void guard_leave(Guard *g) noexcept:
    if g.depth:
        g.depth -= 1


cdef enum Status:
    STATUS_OK = 0
    STATUS_DIVERGED = 1     # non-finite loss, or an update that overflowed
    STATUS_INTERRUPTED = 2  # a signal handler raised between two batches

cdef enum Loss:
    LOSS_SOFTMAX_XENT = 0   # softmax output, cross-entropy on integer labels
    LOSS_SIGMOID_BCE = 1    # sigmoid output, binary cross-entropy on 0/1 targets
    LOSS_MSE = 2            # identity output, mean squared error

OK = STATUS_OK
DIVERGED = STATUS_DIVERGED
INTERRUPTED = STATUS_INTERRUPTED
SOFTMAX_XENT = LOSS_SOFTMAX_XENT
SIGMOID_BCE = LOSS_SIGMOID_BCE
MSE = LOSS_MSE
#: Columns of the per-layer statistics recorded by :meth:`Network.train_epoch`.
STAT_COLUMNS = ("act_sum", "act_sumsq", "dz_sum", "dz_sumsq", "dw_sum", "dw_sumsq")
cdef enum:
    N_STATS = 6


cdef struct Layer:
    int fan_in
    int fan_out
    Py_ssize_t w_off      # W in the parameter buffer: (fan_in, fan_out)
    Py_ssize_t b_off      # b in the parameter buffer: (fan_out,)
    Py_ssize_t act_col    # output block at acts + capacity * act_col
    Py_ssize_t delta_col  # dZ block at deltas + capacity * delta_col
    int activation
    double slope


cdef struct Net:
    int n_layers
    int loss
    Layer *layers
    int n_in
    int n_out
    Py_ssize_t n_weights
    Py_ssize_t n_params
    Py_ssize_t capacity   # rows of every workspace block
    void *params
    void *grads
    void *acts            # (capacity, n_in) input block, then each output
    void *deltas          # each layer's dZ block
    void *targets         # capacity labels, or (capacity, n_out) targets


cdef enum Optimizer:
    OPT_SGD = 0
    OPT_ADAM = 1

cdef struct Opt:
    int kind              # Optimizer
    k.ir_sgd_params w     # SGD: applied to the weights
    k.ir_sgd_params b     # SGD: applied to the biases
    k.ir_adam_params aw   # Adam: applied to the weights
    k.ir_adam_params ab   # Adam: applied to the biases
    void *velocity        # SGD: NULL without momentum
    void *cumq            # SGD: NULL unless the cumulative L1 mode is on
    void *exp_avg         # Adam: the first moment
    void *exp_avg_sq      # Adam: the second moment
    void *max_exp_avg_sq  # Adam: its running maximum, NULL without amsgrad
    int64_t steps         # updates applied so far


cdef struct Totals:
    double loss_sum       # sum over batches of mean batch loss * batch rows
    int64_t n_correct
    Py_ssize_t n_seen
    Py_ssize_t steps


# ---- the compiled passes (fused over float / double) -----------------------

cdef void forward(Net *net, const floating *x, int rows) noexcept nogil:
    """Every layer: Z = A W (BLAS), then A' = f(Z + b) in one pass."""
    cdef floating *P = <floating *> net.params
    cdef floating *out
    cdef const floating *inp = x
    cdef Layer *L
    cdef int l
    for l in range(net.n_layers):
        L = &net.layers[l]
        out = <floating *> net.acts + net.capacity * L.act_col
        gemm(NoTrans, NoTrans, rows, L.fan_out, L.fan_in, <floating> 1, inp,
             L.fan_in, P + L.w_off, L.fan_out, <floating> 0, out, L.fan_out)
        k.bias_activation(out, P + L.b_off, rows, L.fan_out, L.activation,
                          <floating> L.slope)
        inp = out


cdef double output_loss(Net *net, floating *acts, const void *targets,
                        int rows, int64_t *n_correct) noexcept nogil:
    """Mean loss of the batch; writes dZ of the last layer and its db."""
    cdef Layer *L = &net.layers[net.n_layers - 1]
    cdef floating *z = acts + net.capacity * L.act_col
    cdef floating *dz = <floating *> net.deltas + net.capacity * L.delta_col
    cdef floating *db = <floating *> net.grads + L.b_off
    cdef floating scale
    if net.loss == LOSS_SOFTMAX_XENT:
        scale = <floating> (1.0 / rows)
        return scale * k.softmax_xent(z, <const int64_t *> targets, dz, db,
                                      rows, L.fan_out, scale, n_correct)
    scale = <floating> (1.0 / (<double> rows * L.fan_out))
    if net.loss == LOSS_SIGMOID_BCE:
        return scale * k.sigmoid_bce(z, <const floating *> targets, dz, db,
                                     rows, L.fan_out, scale, n_correct)
    return scale * k.mse(z, <const floating *> targets, dz, db, rows,
                         L.fan_out, scale)


cdef size_t backward(Net *net, const floating *x, int rows, Opt *opt) noexcept nogil:
    """From the last layer's dZ: dW = A^T dZ, and for every layer below,
    dZ' = (dZ W^T) * f'(A) with db' = colsum(dZ') fused in the same pass.

    With an optimiser, each layer's parameters are updated as soon as their
    gradients are complete and W has served for dZ' -- while dW is still in
    cache.  Returns the number of non-finite updates (0 without ``opt``)."""
    cdef floating *P = <floating *> net.params
    cdef floating *G = <floating *> net.grads
    cdef floating *A = <floating *> net.acts
    cdef floating *D = <floating *> net.deltas
    cdef const floating *inp
    cdef floating *dz
    cdef floating *dprev
    cdef Layer *L
    cdef Layer *below
    cdef size_t bad = 0
    cdef int l
    for l in range(net.n_layers - 1, -1, -1):
        L = &net.layers[l]
        dz = D + net.capacity * L.delta_col
        if l == 0:
            inp = x
        else:
            below = &net.layers[l - 1]
            inp = A + net.capacity * below.act_col
        gemm(Trans, NoTrans, L.fan_in, L.fan_out, rows, <floating> 1, inp,
             L.fan_in, dz, L.fan_out, <floating> 0, G + L.w_off, L.fan_out)
        if l > 0:  # no gradient with respect to the input is needed
            dprev = D + net.capacity * below.delta_col
            gemm(NoTrans, Trans, rows, L.fan_in, L.fan_out, <floating> 1, dz,
                 L.fan_out, P + L.w_off, L.fan_out, <floating> 0, dprev, L.fan_in)
            k.activation_backward(dprev, inp, rows, L.fan_in, below.activation,
                                  <floating> below.slope, G + below.b_off)
        if opt != NULL:
            bad += update_layer(net, opt, L, P)
    return bad


cdef inline floating *at(floating *buffer, Py_ssize_t offset) noexcept nogil:
    """An optimizer buffer at a layer's offset, or NULL for an unused one."""
    return buffer + offset if buffer != NULL else NULL


cdef size_t update_layer(Net *net, Opt *opt, Layer *L, floating *P) noexcept nogil:
    """The fused optimizer step of one layer: its weights (with the penalties
    and decay), then its biases.  Returns the count of non-finite results."""
    cdef floating *G = <floating *> net.grads
    cdef size_t n_w = <size_t> L.fan_in * L.fan_out
    cdef floating *M
    cdef floating *V
    cdef floating *X
    cdef floating *Q
    if opt.kind == OPT_ADAM:
        M = <floating *> opt.exp_avg
        V = <floating *> opt.exp_avg_sq
        X = <floating *> opt.max_exp_avg_sq
        return (k.adam_update(P + L.w_off, G + L.w_off, M + L.w_off, V + L.w_off,
                              at(X, L.w_off), n_w, &opt.aw)
                + k.adam_update(P + L.b_off, G + L.b_off, M + L.b_off, V + L.b_off,
                                at(X, L.b_off), L.fan_out, &opt.ab))
    V = <floating *> opt.velocity
    Q = <floating *> opt.cumq
    return (k.sgd_update(P + L.w_off, G + L.w_off, at(V, L.w_off), at(Q, L.w_off), n_w,
                         &opt.w)
            + k.sgd_update(P + L.b_off, G + L.b_off, at(V, L.b_off), at(Q, L.b_off),
                           L.fan_out, &opt.b))


cdef Status train_step(Net *net, Opt *opt, const floating *x,
                       const void *targets, int rows, double *loss,
                       int64_t *n_correct) noexcept nogil:
    """Forward, loss, backward, update.  A non-finite loss returns before the
    update, so the parameters stay those of the last finite step."""
    forward(net, x, rows)
    loss[0] = output_loss(net, <floating *> net.acts, targets, rows, n_correct)
    if not isfinite(loss[0]):
        return STATUS_DIVERGED
    if opt.cumq != NULL:  # the total L1 penalty any weight could have had
        opt.w.cum_u += opt.w.lr * opt.w.l1
        opt.b.cum_u += opt.b.lr * opt.b.l1
    opt.steps += 1
    if opt.kind == OPT_ADAM:  # the bias corrections of step t, as PyTorch's
        opt.aw.bias_correction1 = 1.0 - pow(opt.aw.beta1, <double> opt.steps)
        opt.aw.bias_correction2 = 1.0 - pow(opt.aw.beta2, <double> opt.steps)
        opt.ab.bias_correction1 = opt.aw.bias_correction1
        opt.ab.bias_correction2 = opt.aw.bias_correction2
    if backward(net, x, rows, opt) != 0:
        return STATUS_DIVERGED
    return STATUS_OK


cdef void record_stats(Net *net, floating *acts, int rows,
                       double *stats) noexcept nogil:
    """Adds this step's per-layer sums (see STAT_COLUMNS) to stats."""
    cdef floating *D = <floating *> net.deltas
    cdef floating *G = <floating *> net.grads
    cdef Layer *L
    cdef double *s
    cdef int l
    for l in range(net.n_layers):
        L = &net.layers[l]
        s = stats + N_STATS * l
        k.moments(acts + net.capacity * L.act_col, <size_t> rows * L.fan_out,
                  &s[0], &s[1])
        k.moments(D + net.capacity * L.delta_col, <size_t> rows * L.fan_out,
                  &s[2], &s[3])
        k.moments(G + L.w_off, <size_t> L.fan_in * L.fan_out, &s[4], &s[5])


cdef void gather(Net *net, const floating *X, const void *T,
                 const int64_t *rows_idx, int rows) noexcept nogil:
    """Copies the rows X[rows_idx] and their targets into the workspace."""
    cdef floating *xin = <floating *> net.acts
    cdef size_t row_bytes = net.n_in * sizeof(floating)
    cdef size_t t_bytes = net.n_out * sizeof(floating)
    cdef int i
    for i in range(rows):
        memcpy(xin + <Py_ssize_t> i * net.n_in,
               X + rows_idx[i] * net.n_in, row_bytes)
    if net.loss == LOSS_SOFTMAX_XENT:
        for i in range(rows):
            (<int64_t *> net.targets)[i] = (<const int64_t *> T)[rows_idx[i]]
    else:
        for i in range(rows):
            memcpy(<floating *> net.targets + <Py_ssize_t> i * net.n_out,
                   <const floating *> T + rows_idx[i] * net.n_out, t_bytes)


cdef Status train_epoch(Net *net, Opt *opt, const floating *X, const void *T,
                        const int64_t *order, Py_ssize_t n, int batch,
                        bint check_signals, double *stats,
                        double *batch_losses, Totals *tot) noexcept nogil:
    """Minibatch SGD over the samples in the given order; stops at the first
    non-finite loss or update, or when a signal handler raises."""
    cdef Py_ssize_t start = 0
    cdef int rows
    cdef double loss
    cdef Status status
    while start < n:
        rows = <int> min(<Py_ssize_t> batch, n - start)
        start += rows
        gather(net, X, T, order + start - rows, rows)
        status = train_step(net, opt, <floating *> net.acts, net.targets,
                            rows, &loss, &tot.n_correct)
        if status != STATUS_OK:
            return status
        tot.loss_sum += loss * rows
        tot.n_seen += rows
        batch_losses[tot.steps] = loss
        tot.steps += 1
        if stats != NULL:
            record_stats(net, <floating *> net.acts, rows, stats)
        if check_signals:
            with gil:
                if PyErr_CheckSignals() != 0:
                    return STATUS_INTERRUPTED
    return STATUS_OK


cdef void predict_logits(Net *net, const floating *X, Py_ssize_t n,
                         floating *out) noexcept nogil:
    """Last-layer outputs for n rows, capacity rows at a time."""
    cdef Layer *last = &net.layers[net.n_layers - 1]
    cdef Py_ssize_t start = 0
    cdef int rows
    while start < n:
        rows = <int> min(net.capacity, n - start)
        forward(net, X + start * net.n_in, rows)
        memcpy(out + start * net.n_out,
               <floating *> net.acts + net.capacity * last.act_col,
               <size_t> rows * net.n_out * sizeof(floating))
        start += rows


cdef void jacobian_rows(Net *net, int layer, const floating *X, Py_ssize_t n, int chunk,
                        floating *out, floating *R, floating *S, floating *D,
                        floating *scratch) noexcept nogil:
    """d z_layer / d(inputs) -- the pre-activations of layer ``layer``, the
    logits for the top one -- for n rows, chunk rows at a time, into out
    (n, fan_out, n_in).  For every row at once, from that layer backwards:
    R = W^T, then for each layer below R <- (R diag f'(z)) W^T -- one GEMM
    per layer over all the chunk's rows stacked -- so that the cost per row is
    fan_out (not n_in) columns through every layer."""
    cdef floating *P = <floating *> net.params
    cdef floating *A = <floating *> net.acts
    cdef Layer *top = &net.layers[layer]
    cdef int n_out = top.fan_out
    cdef Layer *L
    cdef floating *t
    cdef Py_ssize_t start = 0, i, o, c
    cdef int rows, l, stacked
    while start < n:
        rows = <int> min(<Py_ssize_t> chunk, n - start)
        forward(net, X + start * net.n_in, rows)
        stacked = rows * n_out
        for i in range(rows):  # every row's R starts as W^T (n_out, fan_in of the top)
            for o in range(n_out):
                for c in range(top.fan_in):
                    R[(i * n_out + o) * top.fan_in + c] = P[top.w_off + c * n_out + o]
        for l in range(layer - 1, -1, -1):
            L = &net.layers[l]
            for c in range(<Py_ssize_t> rows * L.fan_out):
                D[c] = 1
            k.activation_backward(D, A + net.capacity * L.act_col, rows, L.fan_out,
                                  L.activation, <floating> L.slope, scratch)
            k.scale_columns(R, D, rows, n_out, L.fan_out)
            gemm(NoTrans, Trans, stacked, L.fan_in, L.fan_out, <floating> 1, R, L.fan_out,
                 P + L.w_off, L.fan_out, <floating> 0, S, L.fan_in)
            t = R
            R = S
            S = t
        memcpy(out + start * n_out * net.n_in, R,
               <size_t> stacked * net.n_in * sizeof(floating))
        start += rows


cdef double evaluate(Net *net, const floating *X, const void *T, Py_ssize_t n,
                     int64_t *n_correct) noexcept nogil:
    """Mean loss over n rows, capacity rows at a time (no update)."""
    cdef Py_ssize_t start = 0
    cdef int rows
    cdef double total = 0
    cdef const void *t
    while start < n:
        rows = <int> min(net.capacity, n - start)
        forward(net, X + start * net.n_in, rows)
        if net.loss == LOSS_SOFTMAX_XENT:
            t = <const int64_t *> T + start
        else:
            t = <const floating *> T + start * net.n_out
        total += rows * output_loss(net, <floating *> net.acts, t, rows,
                                    n_correct)
        start += rows
    return total / n


# ---- the Python-facing engine ----------------------------------------------

#: Byte alignment of every buffer a Network allocates: a cache line, so that
#: no vector load or store of the kernels straddles two lines (NumPy's own
#: allocations are only 16-byte aligned).
ALIGNMENT = 64


def aligned_zeros(Py_ssize_t n, dtype):
    """A zero-filled 1-D array of n items of ``dtype`` whose data starts on
    a multiple of :data:`ALIGNMENT` bytes (a view into a slightly larger
    byte array)."""
    if n < 0:
        raise ValueError(f"aligned_zeros of {n} items")
    dtype = np.dtype(dtype)
    raw = np.zeros(n * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + n * dtype.itemsize].view(dtype)


cdef inline void *_address(object a, Py_ssize_t nbytes, bint writable,
                           char kind) except NULL:
    return buffer_address(a, nbytes, writable, kind)


cdef class OptimizerState:
    """What an optimiser keeps between the steps of one network: its
    hyperparameters in the form the update kernels take, the step count, and
    the buffers the update writes in place, laid out like the network's
    parameter buffer: SGD's "velocity" (with momentum) and "cumulative" (the
    L1 penalty applied to each parameter so far, in the cumulative L1 mode);
    Adam's "exp_avg", "exp_avg_sq" and "max_exp_avg_sq" (with amsgrad), the
    names PyTorch gives them.

    Created and configured by :mod:`initreg.optim`, which validates every
    value; the engine trusts them.

    Parameters
    ----------
    n_params, n_weights : int
        Size of the network's parameter buffer, and of its weight part (the
        penalties apply to the biases only when asked).
    double : bool
        float64 when true, float32 otherwise.
    """
    cdef Opt opt
    cdef readonly Py_ssize_t n_params
    cdef readonly Py_ssize_t n_weights
    cdef readonly bint is_f64
    cdef readonly object dtype
    cdef readonly dict buffers
    cdef char _kind
    cdef Guard _guard

    def __cinit__(self, Py_ssize_t n_params, Py_ssize_t n_weights, bint double):
        self.n_params = n_params
        self.n_weights = n_weights
        self.is_f64 = double
        self.dtype = np.dtype(np.float64 if double else np.float32)
        self._kind = b"d" if double else b"f"
        self.buffers = {}
        self.opt.kind = OPT_SGD
        self.opt.velocity = NULL
        self.opt.cumq = NULL
        self.opt.exp_avg = NULL
        self.opt.exp_avg_sq = NULL
        self.opt.max_exp_avg_sq = NULL
        self.opt.steps = 0
        self.opt.w.cum_u = 0.0
        self.opt.b.cum_u = 0.0

    cdef int _enter(self) except -1:
        return guard_enter(&self._guard, "this optimizer's state is in use by a training "
                                         "call in another thread")

    cdef void _leave(self) noexcept:
        guard_leave(&self._guard)

    def acquire(self):
        """Takes the guard for this thread (RuntimeError while another
        thread holds it); pair with :meth:`release`."""
        self._enter()

    def release(self):
        """Gives back the guard taken by :meth:`acquire`."""
        self._leave()

    cdef void *_buffer(self, str name) except NULL:
        """The named buffer, created zero-filled on first use."""
        if name not in self.buffers:
            self.buffers[name] = aligned_zeros(self.n_params, self.dtype)
        a = self.buffers[name]
        return _address(a, self.n_params * self.dtype.itemsize, True, self._kind)

    def configure(self, double lr, double momentum, bint nesterov, double l1, double l2,
                  double weight_decay, int l1_mode, bint regularize_bias):
        """SGD hyperparameters (see csrc/initreg.h): the weights get all of
        them, the biases the penalties and the decay only with
        ``regularize_bias``.  The update uses the buffers these settings
        need, created zero-filled on first use; the others keep their values,
        unused, until a setting needs them again."""
        cdef k.ir_sgd_params p
        p.lr = lr
        p.momentum = momentum
        p.nesterov = nesterov
        p.l1 = l1
        p.l2 = l2
        p.weight_decay = weight_decay
        p.l1_mode = l1_mode
        p.cum_u = self.opt.w.cum_u
        self._enter()
        try:
            self.opt.kind = OPT_SGD
            self.opt.velocity = self._buffer("velocity") if momentum != 0.0 else NULL
            self.opt.cumq = (self._buffer("cumulative")
                             if l1_mode == k.IR_L1_CUMULATIVE and l1 != 0.0 else NULL)
            self.opt.w = p
            self.opt.b = p
            if not regularize_bias:
                self.opt.b.l1 = 0.0
                self.opt.b.l2 = 0.0
                self.opt.b.weight_decay = 0.0
                self.opt.b.l1_mode = k.IR_L1_SUBGRADIENT
        finally:
            self._leave()

    def configure_adam(self, double lr, double beta1, double beta2, double eps, double l1,
                       double l2, double weight_decay, int l1_mode, bint amsgrad,
                       bint regularize_bias):
        """Adam hyperparameters (see csrc/initreg.h), as :meth:`configure`."""
        cdef k.ir_adam_params p
        p.lr = lr
        p.beta1 = beta1
        p.beta2 = beta2
        p.eps = eps
        p.l1 = l1
        p.l2 = l2
        p.weight_decay = weight_decay
        p.amsgrad = amsgrad
        p.l1_mode = l1_mode
        p.bias_correction1 = 1.0 - beta1 ** max(self.opt.steps, 1)
        p.bias_correction2 = 1.0 - beta2 ** max(self.opt.steps, 1)
        self._enter()
        try:
            self.opt.kind = OPT_ADAM
            self.opt.exp_avg = self._buffer("exp_avg")
            self.opt.exp_avg_sq = self._buffer("exp_avg_sq")
            self.opt.max_exp_avg_sq = self._buffer("max_exp_avg_sq") if amsgrad else NULL
            self.opt.aw = p
            self.opt.ab = p
            if not regularize_bias:
                self.opt.ab.l1 = 0.0
                self.opt.ab.l2 = 0.0
                self.opt.ab.weight_decay = 0.0
                self.opt.ab.l1_mode = k.IR_L1_SUBGRADIENT
        finally:
            self._leave()

    @property
    def lr(self):
        """The learning rate of the next step (a schedule sets it per epoch)."""
        return self.opt.w.lr

    @lr.setter
    def lr(self, double value):
        self.opt.w.lr = value
        self.opt.b.lr = value
        self.opt.aw.lr = value
        self.opt.ab.lr = value

    @property
    def steps(self):
        """Updates applied so far."""
        return self.opt.steps

    @steps.setter
    def steps(self, int64_t value):
        self.opt.steps = value

    @property
    def cum_u(self):
        """Cumulative L1 mode: the total penalty each weight could have had."""
        return self.opt.w.cum_u

    @cum_u.setter
    def cum_u(self, double value):
        self.opt.w.cum_u = value
        self.opt.b.cum_u = value

    @property
    def busy(self):
        """True while a thread holds this state (a training call runs)."""
        return self._guard.depth > 0

    def load_buffer(self, str name, values):
        """Copies ``values`` (n_params of this state's dtype) into the named
        buffer, creating it if needed."""
        self._enter()
        try:
            self._buffer(name)
            self.buffers[name][...] = values
        finally:
            self._leave()


#: Tokens that tell networks apart for the optimisers bound to them; never
#: reused within a process (unlike id()).
_tokens = itertools.count(1)


cdef class Network:
    """Parameters, gradients and workspace of one network.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[n_in, n_1, ..., n_out]``, at least two entries.
    activations : sequence of int
        One activation code per layer (``_kernels.TANH``, ...); the last
        layer's code is ignored: it is always the identity (logits), and the
        output non-linearity lives in the loss.
    slopes : sequence of float
        The leaky-ReLU slope of each layer (ignored for other activations).
    loss : int
        ``SOFTMAX_XENT``, ``SIGMOID_BCE`` or ``MSE``.
    double : bool
        float64 when true, float32 otherwise.
    """
    cdef Net net
    cdef readonly bint is_f64
    cdef readonly object dtype
    cdef readonly object params
    cdef readonly object grads
    cdef readonly long long token
    cdef object _acts, _deltas, _targets
    cdef Py_ssize_t _act_width, _delta_width
    cdef char _kind  # item kind of the floats: b"f" or b"d"
    cdef Guard _guard

    def __cinit__(self, layer_sizes, activations, slopes, int loss, bint double):
        sizes = [int(s) for s in layer_sizes]
        cdef int n_layers = len(sizes) - 1
        cdef int l
        self.net.layers = <Layer *> malloc(max(n_layers, 1) * sizeof(Layer))
        if self.net.layers == NULL:
            raise MemoryError()
        self.net.n_layers = n_layers
        self.net.loss = loss
        self.net.n_in = sizes[0]
        self.net.n_out = sizes[n_layers]
        self.is_f64 = double
        self.dtype = np.dtype(np.float64 if double else np.float32)
        cdef Py_ssize_t w_off = 0, act_col = sizes[0], delta_col = 0
        cdef Layer *L
        for l in range(n_layers):
            L = &self.net.layers[l]
            L.fan_in = sizes[l]
            L.fan_out = sizes[l + 1]
            L.w_off = w_off
            L.act_col = act_col
            L.delta_col = delta_col
            L.activation = k.IR_IDENTITY if l == n_layers - 1 else activations[l]
            L.slope = slopes[l]
            w_off += <Py_ssize_t> L.fan_in * L.fan_out
            act_col += L.fan_out
            delta_col += L.fan_out
        self.net.n_weights = w_off
        for l in range(n_layers):  # the biases follow all the weights
            L = &self.net.layers[l]
            L.b_off = w_off
            w_off += L.fan_out
        self.net.n_params = w_off
        self._act_width = act_col
        self._delta_width = delta_col
        self.params = aligned_zeros(self.net.n_params, self.dtype)
        self.grads = aligned_zeros(self.net.n_params, self.dtype)
        self._kind = b"d" if double else b"f"
        self.net.params = _address(self.params, self.params.nbytes, True, self._kind)
        self.net.grads = _address(self.grads, self.grads.nbytes, True, self._kind)
        self.net.capacity = 0
        self.token = next(_tokens)

    def __dealloc__(self):
        free(self.net.layers)

    @property
    def n_weights(self):
        """Number of weight entries (the first part of ``params``)."""
        return self.net.n_weights

    @property
    def busy(self):
        """True while a thread holds this network (a call runs, or a fit)."""
        return self._guard.depth > 0

    @property
    def capacity(self):
        """Rows the workspace holds at present."""
        return self.net.capacity

    def layout(self):
        """[(w_offset, fan_in, fan_out, b_offset)] for every layer."""
        return [(self.net.layers[l].w_off, self.net.layers[l].fan_in,
                 self.net.layers[l].fan_out, self.net.layers[l].b_off)
                for l in range(self.net.n_layers)]

    def workspace_bytes(self, Py_ssize_t rows):
        """Bytes the workspace needs for ``rows`` rows."""
        return rows * ((self._act_width + self._delta_width) * self.dtype.itemsize
                       + (8 if self.net.loss == LOSS_SOFTMAX_XENT
                          else self.net.n_out * self.dtype.itemsize))

    # -- guarding the shared state -------------------------------------------
    # Every public method starts with _enter: the workspace and the
    # parameters are then used by one thread at a time, and no other thread
    # can replace a buffer that a running loop writes into.  acquire /
    # release give Python code (fit, saving, copying, re-initialising) the
    # same guard.

    cdef int _enter(self) except -1:
        return guard_enter(&self._guard, "this model is already training or predicting in "
                                         "another thread; use one model per thread (or a lock)")

    cdef void _leave(self) noexcept:
        guard_leave(&self._guard)

    def acquire(self):
        """Takes the guard for this thread (RuntimeError while another
        thread holds it); pair with :meth:`release`."""
        self._enter()

    def release(self):
        """Gives back the guard taken by :meth:`acquire`."""
        self._leave()

    cdef int _reserve(self, Py_ssize_t rows) except -1:
        """Grows the workspace to hold at least ``rows`` rows (never shrinks)."""
        if rows <= self.net.capacity:
            return 0
        self._acts = aligned_zeros(rows * self._act_width, self.dtype)
        self._deltas = aligned_zeros(rows * self._delta_width, self.dtype)
        if self.net.loss == LOSS_SOFTMAX_XENT:
            self._targets = aligned_zeros(rows, np.int64)
        else:
            self._targets = aligned_zeros(rows * self.net.n_out, self.dtype)
        self.net.acts = _address(self._acts, self._acts.nbytes, True, self._kind)
        self.net.deltas = _address(self._deltas, self._deltas.nbytes, True, self._kind)
        self.net.targets = _address(self._targets, self._targets.nbytes, True,
                                    b"q" if self.net.loss == LOSS_SOFTMAX_XENT else self._kind)
        self.net.capacity = rows
        return 0

    cdef int _check_state(self, OptimizerState state) except -1:
        if state.n_params != self.net.n_params or state.is_f64 != self.is_f64:
            raise ValueError(
                f"optimizer state for {state.n_params} {state.dtype} parameters "
                f"used on a network of {self.net.n_params} {self.dtype}")
        return 0

    cdef const void *_inputs(self, X, Py_ssize_t rows) except NULL:
        return _address(X, rows * self.net.n_in * self.dtype.itemsize, False, self._kind)

    cdef const void *_targets_of(self, T, Py_ssize_t rows) except NULL:
        if self.net.loss == LOSS_SOFTMAX_XENT:
            return _address(T, rows * 8, False, b"q")
        return _address(T, rows * self.net.n_out * self.dtype.itemsize, False, self._kind)

    # -- the calls -------------------------------------------------------------

    def forward(self, X, out):
        """Writes the last layer's outputs (logits) for the rows of X into out."""
        cdef Py_ssize_t n = len(X)
        cdef const void *xp
        cdef void *op
        self._enter()
        try:
            xp = self._inputs(X, n)
            op = _address(out, n * self.net.n_out * self.dtype.itemsize, True, self._kind)
            self._reserve(min(n, 256))
            with nogil:
                if self.is_f64:
                    predict_logits(&self.net, <const double *> xp, n, <double *> op)
                else:
                    predict_logits(&self.net, <const float *> xp, n, <float *> op)
        finally:
            self._leave()

    def jacobian(self, X, out, int layer, int chunk):
        """Writes d z_layer / d(inputs) of every row of X into out, shape
        (rows, fan_out of ``layer``, n_in), ``chunk`` rows at a time."""
        cdef Py_ssize_t n = len(X)
        cdef Py_ssize_t width = self._jacobian_width(layer)
        cdef Py_ssize_t n_out = self.net.layers[layer].fan_out
        cdef const void *xp
        cdef void *op
        cdef void *r
        cdef void *t
        cdef void *d
        cdef void *scratch
        self._enter()
        try:
            xp = self._inputs(X, n)
            op = _address(out, n * n_out * self.net.n_in * self.dtype.itemsize, True,
                          self._kind)
            self._reserve(chunk)
            stacked = aligned_zeros(chunk * n_out * width, self.dtype)
            other = aligned_zeros(chunk * n_out * width, self.dtype)
            derivative = aligned_zeros(chunk * width, self.dtype)
            sums = aligned_zeros(width, self.dtype)
            r = _address(stacked, stacked.nbytes, True, self._kind)
            t = _address(other, other.nbytes, True, self._kind)
            d = _address(derivative, derivative.nbytes, True, self._kind)
            scratch = _address(sums, sums.nbytes, True, self._kind)
            with nogil:
                if self.is_f64:
                    jacobian_rows(&self.net, layer, <const double *> xp, n, chunk,
                                  <double *> op, <double *> r, <double *> t, <double *> d,
                                  <double *> scratch)
                else:
                    jacobian_rows(&self.net, layer, <const float *> xp, n, chunk,
                                  <float *> op, <float *> r, <float *> t, <float *> d,
                                  <float *> scratch)
        finally:
            self._leave()

    def _jacobian_width(self, int layer):
        return max(self.net.layers[l].fan_in for l in range(layer + 1))

    def jacobian_bytes(self, int layer, Py_ssize_t chunk):
        """Bytes of scratch :meth:`jacobian` needs for ``chunk`` rows at a time."""
        cdef Py_ssize_t width = self._jacobian_width(layer)
        return (chunk * (2 * self.net.layers[layer].fan_out + 1) + 1) * width \
            * self.dtype.itemsize + self.workspace_bytes(chunk)

    def evaluate(self, X, T):
        """(mean loss, number correct) over the rows of X without an update."""
        cdef Py_ssize_t n = len(X)
        cdef const void *xp
        cdef const void *tp
        cdef int64_t correct = 0
        cdef double loss
        self._enter()
        try:
            xp = self._inputs(X, n)
            tp = self._targets_of(T, n)
            self._reserve(min(n, 256))
            with nogil:
                if self.is_f64:
                    loss = evaluate(&self.net, <const double *> xp, tp, n, &correct)
                else:
                    loss = evaluate(&self.net, <const float *> xp, tp, n, &correct)
        finally:
            self._leave()
        return loss, correct

    def loss_and_gradients(self, X, T):
        """Mean data loss of the batch; fills ``grads`` with its gradient."""
        cdef int rows = len(X)
        cdef const void *xp
        cdef const void *tp
        cdef int64_t correct = 0
        cdef double loss
        self._enter()
        try:
            xp = self._inputs(X, rows)
            tp = self._targets_of(T, rows)
            self._reserve(rows)
            with nogil:
                if self.is_f64:
                    forward(&self.net, <const double *> xp, rows)
                    loss = output_loss(&self.net, <double *> self.net.acts, tp, rows, &correct)
                    backward(&self.net, <const double *> xp, rows, NULL)
                else:
                    forward(&self.net, <const float *> xp, rows)
                    loss = output_loss(&self.net, <float *> self.net.acts, tp, rows, &correct)
                    backward(&self.net, <const float *> xp, rows, NULL)
        finally:
            self._leave()
        return loss

    def trace(self, X, T=None):
        """Forward (and with targets T, loss and backward) for the rows of X in
        one piece.  Returns (mean loss or None, [per-layer outputs
        (rows, fan_out)], [per-layer dLoss/dZ] or None), all copies."""
        cdef int rows = len(X)
        cdef const void *xp
        cdef const void *tp = NULL
        cdef int64_t correct = 0
        cdef double loss = 0
        cdef Layer *L
        cdef Py_ssize_t cap
        cdef int l
        self._enter()
        try:
            xp = self._inputs(X, rows)
            if T is not None:
                tp = self._targets_of(T, rows)
            self._reserve(rows)
            with nogil:
                if self.is_f64:
                    forward(&self.net, <const double *> xp, rows)
                    if tp != NULL:
                        loss = output_loss(&self.net, <double *> self.net.acts, tp, rows,
                                           &correct)
                        backward(&self.net, <const double *> xp, rows, NULL)
                else:
                    forward(&self.net, <const float *> xp, rows)
                    if tp != NULL:
                        loss = output_loss(&self.net, <float *> self.net.acts, tp, rows,
                                           &correct)
                        backward(&self.net, <const float *> xp, rows, NULL)
            cap = self.net.capacity
            outs, deltas = [], []
            for l in range(self.net.n_layers):
                L = &self.net.layers[l]
                a = self._acts[cap * L.act_col: cap * L.act_col + rows * L.fan_out]
                outs.append(a.reshape(rows, L.fan_out).copy())
                d = self._deltas[cap * L.delta_col: cap * L.delta_col + rows * L.fan_out]
                deltas.append(d.reshape(rows, L.fan_out).copy())
        finally:
            self._leave()
        return (loss if T is not None else None), outs, (deltas if T is not None else None)

    def penalty(self, double l1, double l2, bint regularize_bias=False,
                bint add_to_gradient=False):
        """(sum|w|, sum w^2, exact zeros) over the penalised parameters (the
        weights, and the biases if asked), in one pass; optionally adds the
        penalty's gradient l1 sign(w) + 2 l2 w to ``grads``."""
        cdef Py_ssize_t n = self.net.n_params if regularize_bias else self.net.n_weights
        cdef double a = 0, s = 0
        cdef size_t zeros = 0
        self._enter()
        try:
            with nogil:
                if self.is_f64:
                    k.penalty(<double *> self.net.params,
                              <double *> self.net.grads if add_to_gradient else NULL,
                              n, l1, l2, &a, &s, &zeros)
                else:
                    k.penalty(<float *> self.net.params,
                              <float *> self.net.grads if add_to_gradient else NULL,
                              n, l1, l2, &a, &s, &zeros)
        finally:
            self._leave()
        return a, s, zeros

    def step(self, X, T, OptimizerState state not None):
        """One training step on the batch (X, T), updating ``state``.

        Returns (status, mean data loss, number correct).  On ``DIVERGED``
        from a non-finite loss, the parameters and the state are untouched."""
        cdef int rows = len(X)
        cdef const void *xp
        cdef const void *tp
        cdef double loss = 0
        cdef int64_t correct = 0
        cdef Status status
        self._enter()
        try:
            state._enter()
            try:
                self._check_state(state)
                xp = self._inputs(X, rows)
                tp = self._targets_of(T, rows)
                self._reserve(rows)
                with nogil:
                    if self.is_f64:
                        status = train_step(&self.net, &state.opt, <const double *> xp, tp,
                                            rows, &loss, &correct)
                    else:
                        status = train_step(&self.net, &state.opt, <const float *> xp, tp,
                                            rows, &loss, &correct)
            finally:
                state._leave()
        finally:
            self._leave()
        return <int> status, loss, correct

    def train_epoch(self, X, T, order, int batch_size, OptimizerState state not None,
                    stats=None, batch_losses=None, bint check_signals=False):
        """Minibatch training over the rows ``order`` (int64, each in range) of
        (X, T), updating ``state``.

        stats : float64 array (n_layers, 6) or None
            When given, per-layer sums (``STAT_COLUMNS``) are added to it.
        batch_losses : float64 array (n_batches,)
            Receives each step's mean loss.
        check_signals : bool
            Run Python's signal handlers between batches (main thread only).

        Returns an :data:`EpochTotals`: status, summed loss (mean batch loss
        times batch rows), correct predictions, samples seen, steps, and the
        exception a signal handler raised (or None).
        """
        cdef Py_ssize_t n_rows = len(X)
        cdef Py_ssize_t n = len(order)
        cdef Py_ssize_t n_batches = (n + batch_size - 1) // batch_size
        cdef const void *xp
        cdef const void *tp
        cdef const int64_t *op
        cdef double *bl
        cdef double *sp = NULL
        cdef Totals tot
        tot.loss_sum = 0
        tot.n_correct = 0
        tot.n_seen = 0
        tot.steps = 0
        cdef Status status
        pending = None
        self._enter()
        try:
            state._enter()
            try:
                self._check_state(state)
                xp = self._inputs(X, n_rows)
                tp = self._targets_of(T, n_rows)
                op = <const int64_t *> _address(order, n * 8, False, b"q")
                if batch_losses is None:
                    batch_losses = np.empty(n_batches)
                bl = <double *> _address(batch_losses, n_batches * 8, True, b"d")
                if stats is not None:
                    sp = <double *> _address(stats, self.net.n_layers * N_STATS * 8, True, b"d")
                self._reserve(batch_size)
                with nogil:
                    if self.is_f64:
                        status = train_epoch(&self.net, &state.opt, <const double *> xp, tp,
                                             op, n, batch_size, check_signals, sp, bl, &tot)
                    else:
                        status = train_epoch(&self.net, &state.opt, <const float *> xp, tp,
                                             op, n, batch_size, check_signals, sp, bl, &tot)
                if status == STATUS_INTERRUPTED:
                    try:
                        _raise_pending()
                    except BaseException as exc:
                        pending = exc
            finally:
                state._leave()
        finally:
            self._leave()
        return EpochTotals(<int> status, tot.loss_sum, tot.n_correct, tot.n_seen, tot.steps,
                           pending)


#: What :meth:`Network.train_epoch` returns.
EpochTotals = namedtuple("EpochTotals", "status loss_sum correct seen steps pending")


cdef int _raise_pending() except -1:
    # The error indicator is already set (by a signal handler): returning -1
    # from an `except -1` function hands it to Python as a normal exception.
    return -1
