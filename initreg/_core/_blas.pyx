"""Row-major GEMM over SciPy's BLAS (``scipy.linalg.cython_blas``).

initreg never writes a matrix product by hand: every product of the dense
layers goes through :func:`gemm`, in float32 (sgemm) or float64 (dgemm).
"""
from cython cimport floating
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
