# Row-major GEMM over SciPy's BLAS (scipy.linalg.cython_blas): every matrix
# product of initreg goes through gemm, in float32 (sgemm) or float64 (dgemm).
from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm


cdef enum BLAS_Trans:
    NoTrans = 110  # 'n'
    Trans = 116    # 't'


cdef inline void gemm(BLAS_Trans ta, BLAS_Trans tb, int m, int n, int k,
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
