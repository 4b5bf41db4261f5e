"""Thin Python entry points to the elementwise C kernels of ``csrc/``.

Each function takes C-contiguous float32 or float64 arrays of matching
dtypes (a fused-type dispatch picks the precision), releases the GIL around
one kernel call, and checks only what would otherwise read or write out of
bounds.  The two input checks, ``all_finite`` (any shape) and
``label_range`` (int64), read the array's buffer directly instead.  They
exist for the tests and for the Python layers that need one kernel alone
(softmax for ``predict_proba``, say); training runs through
:mod:`initreg._core._network`.
"""
from cpython.buffer cimport PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBuffer_Release, PyObject_GetBuffer
from cython cimport floating
from libc.stdint cimport int64_t

import numpy as np

from initreg._core cimport _csrc as k
from initreg._core._buffer cimport format_text, item_kind

# Activation and L1-mode codes, shared with csrc/initreg.h.
IDENTITY = k.IR_IDENTITY
TANH = k.IR_TANH
SIGMOID = k.IR_SIGMOID
RELU = k.IR_RELU
LEAKY_RELU = k.IR_LEAKY_RELU
L1_SUBGRADIENT = k.IR_L1_SUBGRADIENT
L1_PROXIMAL = k.IR_L1_PROXIMAL
L1_CUMULATIVE = k.IR_L1_CUMULATIVE
L1_PROXIMAL_PRECONDITIONED = k.IR_L1_PROXIMAL_PRECONDITIONED
# sgd_update prefetches on arrays of at least this many bytes (csrc/initreg.h)
STREAM_BYTES = k.IR_STREAM_BYTES


cdef inline _like(const floating[:, ::1] x):
    return np.empty((x.shape[0], x.shape[1]),
                    dtype=np.float32 if floating is float else np.float64)


cdef _same_shape(x, y, str what):
    if tuple(x.shape[:x.ndim]) != tuple(y.shape[:y.ndim]):
        raise ValueError(f"{what}: shapes {tuple(x.shape[:x.ndim])} and "
                         f"{tuple(y.shape[:y.ndim])} differ")


cdef enum Elementwise:
    EXP
    TANH_
    SIGMOID_


cdef _elementwise(const floating[::1] x, Elementwise which):
    out = np.empty(x.shape[0], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] y = out
    if x.shape[0]:
        with nogil:
            if which == EXP:
                k.exp_(&x[0], &y[0], x.shape[0])
            elif which == TANH_:
                k.tanh_(&x[0], &y[0], x.shape[0])
            else:
                k.sigmoid_(&x[0], &y[0], x.shape[0])
    return out


def exp(const floating[::1] x):
    """exp(x) elementwise: vectorised, a few ulp; +inf / 0 beyond the range."""
    return _elementwise(x, EXP)


def tanh(const floating[::1] x):
    """tanh(x) elementwise: vectorised (float32: <= 6 ulp, float64: <= 4 ulp),
    exact +-1 limits."""
    return _elementwise(x, TANH_)


def sigmoid(const floating[::1] x):
    """1 / (1 + exp(-x)) elementwise: vectorised, exact 0 / 1 limits."""
    return _elementwise(x, SIGMOID_)


def bias_activation(floating[:, ::1] z, const floating[::1] b, int activation,
                    double slope=0.0):
    """In place: z[i, j] <- f(z[i, j] + b[j])."""
    if b.shape[0] != z.shape[1]:
        raise ValueError(f"bias has {b.shape[0]} entries for {z.shape[1]} columns")
    if z.shape[0] and z.shape[1]:
        with nogil:
            k.bias_activation(&z[0, 0], &b[0], z.shape[0], z.shape[1],
                              activation, <floating> slope)


def activation_backward(floating[:, ::1] d, const floating[:, ::1] a,
                        int activation, double slope=0.0):
    """In place: d <- d * f'(z), f' taken from a = f(z); returns colsum(d)."""
    _same_shape(d, a, "activation_backward")
    colsum = np.zeros(d.shape[1], dtype=np.float32 if floating is float else np.float64)
    cdef floating[::1] cs = colsum
    if d.shape[0] and d.shape[1]:
        with nogil:
            k.activation_backward(&d[0, 0], &a[0, 0], d.shape[0], d.shape[1],
                                  activation, <floating> slope, &cs[0])
    return colsum


def softmax_xent(const floating[:, ::1] z, const int64_t[::1] labels):
    """Softmax + cross-entropy of logits z (rows, cols) against labels in
    [0, cols).  Returns (summed loss, d(mean loss)/dz, colsum of it, correct)."""
    if labels.shape[0] != z.shape[0]:
        raise ValueError("one label per row is needed")
    for i in range(labels.shape[0]):
        if not 0 <= labels[i] < z.shape[1]:
            raise ValueError(f"label {labels[i]} outside [0, {z.shape[1]})")
    dz = _like(z)
    colsum = np.zeros(z.shape[1], dtype=dz.dtype)
    cdef floating[:, ::1] g = dz
    cdef floating[::1] cs = colsum
    cdef int64_t correct = 0
    cdef double loss = 0
    if z.shape[0] and z.shape[1]:
        with nogil:
            loss = k.softmax_xent(&z[0, 0], &labels[0], &g[0, 0], &cs[0],
                                  z.shape[0], z.shape[1],
                                  <floating> (1.0 / z.shape[0]), &correct)
    return loss, dz, colsum, int(correct)


def sigmoid_bce(const floating[:, ::1] z, const floating[:, ::1] t):
    """Sigmoid + binary cross-entropy, mean over all elements.  Returns
    (summed loss, d(mean loss)/dz, colsum of it, correct sign count)."""
    _same_shape(z, t, "sigmoid_bce")
    dz = _like(z)
    colsum = np.zeros(z.shape[1], dtype=dz.dtype)
    cdef floating[:, ::1] g = dz
    cdef floating[::1] cs = colsum
    cdef int64_t correct = 0
    cdef double loss = 0
    if z.shape[0] and z.shape[1]:
        with nogil:
            loss = k.sigmoid_bce(&z[0, 0], &t[0, 0], &g[0, 0], &cs[0],
                                 z.shape[0], z.shape[1],
                                 <floating> (1.0 / (z.shape[0] * z.shape[1])),
                                 &correct)
    return loss, dz, colsum, int(correct)


def mse(const floating[:, ::1] z, const floating[:, ::1] t):
    """Squared error, mean over all elements.  Returns (summed loss,
    d(mean loss)/dz, colsum of it)."""
    _same_shape(z, t, "mse")
    dz = _like(z)
    colsum = np.zeros(z.shape[1], dtype=dz.dtype)
    cdef floating[:, ::1] g = dz
    cdef floating[::1] cs = colsum
    cdef double loss = 0
    if z.shape[0] and z.shape[1]:
        with nogil:
            loss = k.mse(&z[0, 0], &t[0, 0], &g[0, 0], &cs[0], z.shape[0],
                         z.shape[1], <floating> (1.0 / (z.shape[0] * z.shape[1])))
    return loss, dz, colsum


def softmax_rows(floating[:, ::1] z):
    """In place: each row of z becomes its softmax (stable)."""
    if z.shape[0] and z.shape[1]:
        with nogil:
            k.softmax_rows(&z[0, 0], z.shape[0], z.shape[1])


def sgd_update(floating[::1] w, const floating[::1] g, v=None, q=None, *,
               double lr, double momentum=0.0, double l1=0.0, double l2=0.0,
               double weight_decay=0.0, double cum_u=0.0, bint nesterov=False,
               int l1_mode=0):
    """One fused SGD step over w in place (see csrc/kernels.inc for the
    formulas).  v: velocity, q: applied cumulative L1 penalty, updated in
    place when given.  Returns the number of elements left unchanged because
    their new value was not finite."""
    _same_shape(w, g, "sgd_update")
    cdef floating[::1] vv, qv
    cdef floating *vp = NULL
    cdef floating *qp = NULL
    if v is not None:
        vv = v
        _same_shape(w, vv, "sgd_update velocity")
        if vv.shape[0]:
            vp = &vv[0]
    if q is not None:
        qv = q
        _same_shape(w, qv, "sgd_update cumulative penalty")
        if qv.shape[0]:
            qp = &qv[0]
    cdef k.ir_sgd_params p
    p.lr = lr
    p.momentum = momentum
    p.l1 = l1
    p.l2 = l2
    p.weight_decay = weight_decay
    p.cum_u = cum_u
    p.nesterov = nesterov
    p.l1_mode = l1_mode
    cdef size_t bad = 0
    if w.shape[0]:
        with nogil:
            bad = k.sgd_update(&w[0], &g[0], vp, qp, w.shape[0], &p)
    return bad


def adam_update(floating[::1] w, const floating[::1] g, floating[::1] m, floating[::1] v,
                vmax=None, *, double lr, long long step, double beta1=0.9,
                double beta2=0.999, double eps=1e-8, double l1=0.0, double l2=0.0,
                double weight_decay=0.0, bint amsgrad=False, int l1_mode=0):
    """One fused Adam step (the ``step``-th, from 1) over w, m, v (and vmax
    with amsgrad) in place; see csrc/kernels.inc for the formulas.  Returns
    the number of elements left unchanged because their new values were
    not finite."""
    _same_shape(w, g, "adam_update")
    _same_shape(w, m, "adam_update first moment")
    _same_shape(w, v, "adam_update second moment")
    cdef floating[::1] xv
    cdef floating *xp = NULL
    if vmax is not None:
        xv = vmax
        _same_shape(w, xv, "adam_update running maximum")
        if xv.shape[0]:
            xp = &xv[0]
    if step < 1:
        raise ValueError(f"step counts from 1, got {step}")
    cdef k.ir_adam_params p
    p.lr = lr
    p.beta1 = beta1
    p.beta2 = beta2
    p.eps = eps
    p.l1 = l1
    p.l2 = l2
    p.weight_decay = weight_decay
    p.bias_correction1 = 1.0 - beta1 ** step
    p.bias_correction2 = 1.0 - beta2 ** step
    p.amsgrad = amsgrad
    p.l1_mode = l1_mode
    cdef size_t bad = 0
    if w.shape[0]:
        with nogil:
            bad = k.adam_update(&w[0], &g[0], &m[0], &v[0], xp, w.shape[0], &p)
    return bad


def penalty(const floating[::1] w, g=None, double l1=0.0, double l2=0.0):
    """(sum|w|, sum w^2, number of exact zeros), sums in double; if g is given,
    g += l1 sign(w) + 2 l2 w."""
    cdef floating[::1] gv
    cdef floating *gp = NULL
    if g is not None:
        gv = g
        _same_shape(w, gv, "penalty")
        if gv.shape[0]:
            gp = &gv[0]
    cdef double a = 0, s = 0
    cdef size_t zeros = 0
    if w.shape[0]:
        with nogil:
            k.penalty(&w[0], gp, w.shape[0], l1, l2, &a, &s, &zeros)
    return a, s, zeros


def moments(const floating[::1] x):
    """(sum x, sum x^2), accumulated in double."""
    cdef double s = 0, ss = 0
    if x.shape[0]:
        with nogil:
            k.moments(&x[0], x.shape[0], &s, &ss)
    return s, ss


# all_finite and label_range check every batch that MLP.step is given: they
# take the array's buffer directly, cheaper than a typed memoryview.

cdef char _contiguous(object x, Py_buffer *view) except 0:
    """Acquires x's buffer (C-contiguous, any shape) into view and returns
    its item kind; the caller releases the view."""
    PyObject_GetBuffer(x, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    cdef char kind = item_kind(view)
    if kind == 0:
        try:
            fmt = format_text(view)
        finally:
            PyBuffer_Release(view)
        raise TypeError(f"expected float32, float64 or int64 items, got {fmt!r}")
    return kind


def all_finite(x):
    """True if no element of x, a C-contiguous float32 or float64 array of
    any shape, is NaN or +-inf (one pass, no temporary)."""
    cdef Py_buffer view
    cdef char kind = _contiguous(x, &view)
    cdef Py_ssize_t n = view.len // view.itemsize
    cdef bint ok = True
    with nogil:
        if kind == b"f":
            ok = k.ir_all_finite_f32(<const float *> view.buf, n)
        elif kind == b"d":
            ok = k.ir_all_finite_f64(<const double *> view.buf, n)
    PyBuffer_Release(&view)
    if kind == b"q":
        raise TypeError("all_finite needs float32 or float64 items, got int64")
    return ok


def label_range(labels):
    """(smallest, largest) of a C-contiguous int64 array of labels, in one
    pass; labels must not be empty."""
    cdef Py_buffer view
    cdef char kind = _contiguous(labels, &view)
    cdef const int64_t *y = <const int64_t *> view.buf
    cdef Py_ssize_t i, n = view.len // view.itemsize
    cdef int64_t lo = 0, hi = 0, v
    if kind == b"q" and n:
        lo = hi = y[0]
        with nogil:
            for i in range(1, n):
                v = y[i]
                lo = v if v < lo else lo
                hi = v if v > hi else hi
    PyBuffer_Release(&view)
    if kind != b"q":
        raise TypeError("label_range needs int64 labels")
    if n == 0:
        raise ValueError("label_range of no labels")
    return lo, hi
