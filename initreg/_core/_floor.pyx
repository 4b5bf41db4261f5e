"""The GEMM floor of a training step, for ``initreg bench``: the matrix
products of one step of a dense network -- forward Z = A W per layer,
backward dW = A^T dZ and dA = dZ W^T -- in the engine's order, shapes and
layout, through the same BLAS calls, and nothing else.  A step cannot cost
less than this."""
from libc.stdlib cimport free, malloc
from cython cimport floating

import numpy as np

from initreg._core._blas cimport NoTrans, Trans, gemm


cdef void _step_products(int n_layers, const int *sizes, int batch, floating **A,
                         floating **W, floating **Z, floating **D, floating **G,
                         floating **E) noexcept nogil:
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
    """The matrix products of one training step on buffers allocated once;
    ``run(k)`` performs them k times with the GIL released."""

    cdef int n_layers, batch
    cdef bint double
    cdef int *sizes
    cdef void **ptrs
    cdef list arrays  # keeps the buffers alive

    def __cinit__(self, layer_sizes, int batch, dtype=np.float32):
        sizes_list = [int(v) for v in layer_sizes]
        if len(sizes_list) < 2 or min(sizes_list) < 1 or batch < 1:
            raise ValueError("layer_sizes needs at least two positive sizes, batch >= 1")
        self.n_layers = len(sizes_list) - 1
        self.batch = batch
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise TypeError(f"dtype must be float32 or float64, got {dt}")
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
