#include "evault_startup.h"
#include <sys/prctl.h>
#include <sys/resource.h>

static int locked_down = 0;

__attribute__((constructor)) static void evault_lock_down_early(void) {
    struct rlimit none = {0, 0};
    int core = setrlimit(RLIMIT_CORE, &none);
    int dump = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    locked_down = (core == 0 && dump == 0);
}

int evault_startup_locked_down(void) { return locked_down; }
