from cython cimport floating


cpdef enum BLAS_Trans:
    NoTrans = 110  # 'n'
    Trans = 116    # 't'


cdef void gemm(BLAS_Trans ta, BLAS_Trans tb, int m, int n, int k,
               floating alpha, const floating *a, int lda, const floating *b,
               int ldb, floating beta, floating *c, int ldc) noexcept nogil
