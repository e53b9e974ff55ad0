# Linux's timerfd: a file descriptor that becomes readable when a timer expires. A MonitorGroup
# with `gather` arms one at the first row of a batch, so that its consumer wakes once, when the
# batch has gathered, instead of at the first row and again after its own sleep.
# Declarations only.

from posix.time cimport itimerspec, CLOCK_MONOTONIC

cdef extern from "<sys/timerfd.h>" nogil:
    int timerfd_create(int clockid, int flags)
    int timerfd_settime(int fd, int flags, const itimerspec *new_value, itimerspec *old_value)
    enum:
        TFD_NONBLOCK
        TFD_CLOEXEC
