# The lock of a caffi.monitor ring: a plain (non-recursive, no priority inheritance) pthread
# mutex. libCom's epicsMutex is recursive and priority-inheriting on Linux, which sends every
# lock and unlock through glibc's slow path (__pthread_mutex_lock_full: 6% of a 5000-PV
# subscriber's CPU under perf); a ring's critical sections are a few stores long, taken once
# per update by libca's thread and once per drain, never recursively.

cdef extern from *:
    """
    #include <pthread.h>
    #include <stdlib.h>
    typedef pthread_mutex_t *caffi_ring_lock_t;
    static caffi_ring_lock_t caffi_ring_lock_create(void) {
        pthread_mutex_t *lock = (pthread_mutex_t *)malloc(sizeof *lock);
        if (lock != NULL && pthread_mutex_init(lock, NULL) != 0) {
            free(lock);
            lock = NULL;
        }
        return lock;
    }
    static void caffi_ring_lock_destroy(caffi_ring_lock_t lock) {
        pthread_mutex_destroy(lock);
        free(lock);
    }
    static inline void caffi_ring_lock(caffi_ring_lock_t lock) { pthread_mutex_lock(lock); }
    static inline void caffi_ring_unlock(caffi_ring_lock_t lock) { pthread_mutex_unlock(lock); }
    """
    ctypedef void *RingLock "caffi_ring_lock_t"
    RingLock ring_lock_create "caffi_ring_lock_create"() nogil
    void ring_lock_destroy "caffi_ring_lock_destroy"(RingLock lock) nogil
    void ring_lock "caffi_ring_lock"(RingLock lock) nogil
    void ring_unlock "caffi_ring_unlock"(RingLock lock) nogil
