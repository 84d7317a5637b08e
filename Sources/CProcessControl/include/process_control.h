#ifndef EVIDENCEVAULT_PROCESS_CONTROL_H
#define EVIDENCEVAULT_PROCESS_CONTROL_H

/* prctl(2) is variadic and so not callable from Swift: these two wrappers are all we use of it. */

/* prctl(PR_SET_DUMPABLE, 0): no core file, and processes of the same user can no longer
   ptrace-attach or read /proc/PID/mem. Returns 0 on success, -1 with errno set. */
int evault_set_not_dumpable(void);

/* prctl(PR_GET_DUMPABLE): 1 if dumpable, 0 if not, -1 with errno set. */
int evault_get_dumpable(void);

#endif
