# Linux's eventfd: a file descriptor a libca thread makes readable without the GIL, so that an
# event loop or select() can wait for it (MonitorGroup rings, caffi.aio's list reads).
# Declarations only.

cdef extern from "<sys/eventfd.h>" nogil:
    ctypedef unsigned long long eventfd_t
    int eventfd(unsigned int initval, int flags)
    int eventfd_read(int fd, eventfd_t *value)
    int eventfd_write(int fd, eventfd_t value)
    enum:
        EFD_NONBLOCK
        EFD_CLOEXEC
