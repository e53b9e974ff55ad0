# Declarations for formatting a C va_list: what a caPrintfFunc (cadef.h) needs to turn libca's
# (format, va_list) pair into text.  va_list is cadef's opaque declaration, so that a function
# declared with it matches cadef.caPrintfFunc.

from libc.stdio cimport FILE
from cadef cimport va_list

cdef extern from "<stdarg.h>" nogil:
    # macros: a va_list may be consumed only once, so each pass works on a copy
    void va_copy(va_list dest, va_list src)
    void va_end(va_list ap)

cdef extern from "<stdio.h>" nogil:
    int vsnprintf(char *buffer, size_t size, const char *format, va_list args)
    int vfprintf(FILE *stream, const char *format, va_list args)
