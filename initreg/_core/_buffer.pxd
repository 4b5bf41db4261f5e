"""The item type of a Python buffer, for compiled entry points that take an
array through the buffer protocol directly: acquiring a typed memoryview (and
a fused-type dispatch) costs more than a small batch's kernel."""
from cpython.buffer cimport Py_buffer


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
