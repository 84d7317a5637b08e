#ifndef EVIDENCEVAULT_STARTUP_H
#define EVIDENCEVAULT_STARTUP_H

/* Linked into the evault executable only. A constructor in this target makes the
   process non-dumpable (no core file, no same-user ptrace or /proc/PID/environ and
   /proc/PID/mem reads) before main runs, shrinking the window in which another
   process of the same user could read EVAULT_PASSPHRASE (THREATS.md 49).
   Returns 1 when the constructor ran and succeeded. */
int evault_startup_locked_down(void);

#endif
