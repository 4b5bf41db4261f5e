"""The item type of a Python buffer, for compiled entry points that take an
array through the buffer protocol directly: acquiring a typed memoryview (and
a fused-type dispatch) costs more than a small batch's kernel."""
from cpython.buffer cimport (Py_buffer, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)


cdef extern from "Python.h":
    const int PY_LITTLE_ENDIAN  # "<" is the native order where this is 1


cdef inline char item_kind(const Py_buffer *view) noexcept:
    """b"f" for float32 items, b"d" float64, b"q" int64, 0 for anything else.
    The view must have been requested with PyBUF_FORMAT."""
    cdef const char *fmt = view.format
    if fmt == NULL:
        return 0  # plain bytes
    while fmt[0] == b"@" or fmt[0] == b"=" or (fmt[0] == b"<" and PY_LITTLE_ENDIAN):
        fmt += 1  # native byte order
    if fmt[0] == 0 or fmt[1] != 0:
        return 0
    if fmt[0] == b"f" and view.itemsize == 4:
        return b"f"
    if fmt[0] == b"d" and view.itemsize == 8:
        return b"d"
    if (fmt[0] == b"q" or fmt[0] == b"l") and view.itemsize == 8:
        return b"q"  # int64 is "l" or "q" depending on the platform
    return 0


cdef inline str format_text(const Py_buffer *view):
    """The view's struct format as text, for error messages."""
    return (<bytes> view.format).decode("ascii") if view.format != NULL else "B"


cdef inline void *buffer_address(object a, Py_ssize_t nbytes, bint writable,
                                 char kind) except NULL:
    """Address of a C-contiguous buffer of exactly nbytes bytes whose items
    are of ``kind`` (see :func:`item_kind`): b"f", b"d" or b"q"."""
    cdef Py_buffer view
    PyObject_GetBuffer(a, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                       | (PyBUF_WRITABLE if writable else 0))
    cdef void *p = view.buf
    cdef Py_ssize_t got = view.len
    cdef char found = item_kind(&view)
    fmt = None
    try:
        if found != kind:
            fmt = format_text(&view)
    finally:
        PyBuffer_Release(&view)
    if fmt is not None:
        raise TypeError(f"engine buffer of items {fmt!r} where {chr(kind)!r} was expected")
    if got != nbytes:
        raise ValueError(f"engine buffer of {got} bytes where {nbytes} were expected")
    if p == NULL:
        raise ValueError("engine buffer is empty")
    return p
