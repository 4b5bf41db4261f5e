"""Row-major GEMM over SciPy's BLAS (``scipy.linalg.cython_blas``).

initreg never writes a matrix product by hand: every product of the dense
layers goes through :func:`gemm`, in float32 (sgemm) or float64 (dgemm).
"""
from cython cimport floating
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm, sgemm

import numpy as np


cdef void gemm(BLAS_Trans ta, BLAS_Trans tb, int m, int n, int k,
               floating alpha, const floating *a, int lda, const floating *b,
               int ldb, floating beta, floating *c, int ldc) noexcept nogil:
    """C <- alpha op(A) op(B) + beta C, all row-major; C is (m, n), op(A) is
    (m, k), op(B) is (k, n), and ld* are the row strides in elements."""
    # Row-major C is column-major C^T = op(B)^T op(A)^T: BLAS gets the
    # operands swapped (and m, n swapped), so nothing is copied or transposed.
    cdef char ta_c = ta, tb_c = tb
    if floating is float:
        sgemm(&tb_c, &ta_c, &n, &m, &k, &alpha, <float *> b, &ldb,
              <float *> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&tb_c, &ta_c, &n, &m, &k, &alpha, <double *> b, &ldb,
              <double *> a, &lda, &beta, c, &ldc)


def matmul(const floating[:, ::1] a, const floating[:, ::1] b,
           bint transpose_a=False, bint transpose_b=False):
    """op(a) @ op(b) through :func:`gemm` (for tests); op transposes if asked."""
    cdef int m = a.shape[1] if transpose_a else a.shape[0]
    cdef int k = a.shape[0] if transpose_a else a.shape[1]
    cdef int kb = b.shape[1] if transpose_b else b.shape[0]
    cdef int n = b.shape[0] if transpose_b else b.shape[1]
    if k != kb:
        raise ValueError(f"inner dimensions differ: {k} and {kb}")
    dtype = np.float32 if floating is float else np.float64
    out = np.zeros((m, n), dtype=dtype)
    cdef floating[:, ::1] c = out
    if m == 0 or n == 0 or k == 0:
        return out
    with nogil:
        gemm(Trans if transpose_a else NoTrans,
             Trans if transpose_b else NoTrans, m, n, k, 1,
             &a[0, 0], a.shape[1], &b[0, 0], b.shape[1], 0, &c[0, 0], n)
    return out


cdef void _step_products(int n_layers, const int *sizes, int batch, floating **A,
                         floating **W, floating **Z, floating **D, floating **G,
                         floating **E) noexcept nogil:
    # the GEMMs of one training step, in the engine's order and layout
    cdef int l
    for l in range(n_layers):  # forward: Z = A W
        gemm(NoTrans, NoTrans, batch, sizes[l + 1], sizes[l], <floating> 1, A[l], sizes[l],
             W[l], sizes[l + 1], <floating> 0, Z[l], sizes[l + 1])
    for l in range(n_layers - 1, -1, -1):  # backward: dW = A^T dZ, dA = dZ W^T
        gemm(Trans, NoTrans, sizes[l], sizes[l + 1], batch, <floating> 1, A[l], sizes[l],
             D[l], sizes[l + 1], <floating> 0, G[l], sizes[l + 1])
        if l > 0:
            gemm(NoTrans, Trans, batch, sizes[l], sizes[l + 1], <floating> 1, D[l],
                 sizes[l + 1], W[l], sizes[l + 1], <floating> 0, E[l], sizes[l])


cdef void _run_products(int repeats, int n_layers, const int *sizes, int batch,
                        floating **ptrs) noexcept nogil:
    cdef int r
    for r in range(repeats):
        _step_products(n_layers, sizes, batch, ptrs, ptrs + n_layers, ptrs + 2 * n_layers,
                       ptrs + 3 * n_layers, ptrs + 4 * n_layers, ptrs + 5 * n_layers)


cdef class StepProducts:
    """The matrix products of one training step of a dense network -- forward
    Z = A W per layer, backward dW = A^T dZ and dA = dZ W^T -- on buffers
    allocated once.  ``run(k)`` performs them k times through :func:`gemm`
    with the GIL released: timed from outside, the GEMM floor of a step."""

    cdef int n_layers, batch
    cdef bint double
    cdef int *sizes
    cdef void **ptrs
    cdef list arrays  # keeps the buffers alive

    def __cinit__(self, layer_sizes, int batch, dtype=np.float32):
        sizes_list = [int(v) for v in layer_sizes]
        self.n_layers = len(sizes_list) - 1
        self.batch = batch
        dt = np.dtype(dtype)
        self.double = dt == np.float64
        rng = np.random.default_rng(0)
        self.arrays = []
        for role in range(6):  # A, W, Z, dZ, dW, dA per layer
            for l in range(self.n_layers):
                fan_in, fan_out = sizes_list[l], sizes_list[l + 1]
                rows, cols = ((batch, fan_in), (fan_in, fan_out), (batch, fan_out),
                              (batch, fan_out), (fan_in, fan_out), (batch, fan_in))[role]
                self.arrays.append(np.ascontiguousarray(rng.uniform(-1, 1, (rows, cols)),
                                                        dtype=dt))
        self.sizes = <int *> malloc((self.n_layers + 1) * sizeof(int))
        self.ptrs = <void **> malloc(6 * self.n_layers * sizeof(void *))
        if self.sizes == NULL or self.ptrs == NULL:
            raise MemoryError()
        for i, v in enumerate(sizes_list):
            self.sizes[i] = v
        for i, a in enumerate(self.arrays):
            self.ptrs[i] = <void *> <size_t> a.ctypes.data

    def __dealloc__(self):
        free(self.sizes)
        free(self.ptrs)

    def run(self, int repeats):
        with nogil:
            if self.double:
                _run_products(repeats, self.n_layers, self.sizes, self.batch,
                              <double **> self.ptrs)
            else:
                _run_products(repeats, self.n_layers, self.sizes, self.batch,
                              <float **> self.ptrs)
