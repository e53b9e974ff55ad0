/* Marks for benchmarks/instructions.py: a Python client (through ctypes) brackets the part of
 * its run that callgrind counts. Run under `valgrind --tool=callgrind --instr-atstart=no`, the
 * client's start-up (the interpreter, numpy, caffi, connecting) runs uninstrumented; each
 * counted part starts from zero and ends in a dump of its own, named by its path
 * ("desc: Trigger: Client Request: <name>" in the dump file). Outside valgrind the client
 * requests are no-ops. Needs valgrind's headers (Debian's valgrind package has them). */
#include <valgrind/callgrind.h>

void caffi_marks_start(void)
{
    CALLGRIND_ZERO_STATS;
    CALLGRIND_START_INSTRUMENTATION;
}

void caffi_marks_stop(const char *name)
{
    CALLGRIND_DUMP_STATS_AT(name);
    CALLGRIND_STOP_INSTRUMENTATION;
}
