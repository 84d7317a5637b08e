/*
 * LD_PRELOAD shim for the crash and write-failure loops (CrashLoopCLITests,
 * THREATS.md 52). Counts every call that changes a file - write, pwrite,
 * writev, fsync, fdatasync, ftruncate, rename, link, unlink, on descriptors
 * other than stdin, stdout and stderr - made by evault itself or by SQLite
 * inside it, and at call number EVAULT_FAULT_AT either fails it with EIO
 * (EVAULT_FAULT_MODE=eio) or kills the process with SIGKILL before it happens
 * (EVAULT_FAULT_MODE=kill). At a normal exit it writes "CALLS FIRED CALL" to the
 * file named by EVAULT_FAULT_REPORT, with the name of the call it cut.
 * With EVAULT_FAULT_TRACE=FILE it appends every counted call to FILE. Processes other than evault (setsid,
 * which starts it) are left alone. With EVAULT_FAULT_SKIP=TEXT, calls on files whose path contains TEXT
 * are neither counted nor failed; with EVAULT_FAULT_ONLY=TEXT, only those are.
 *
 * Test support only: compiled by the test with the system C compiler, never
 * linked into evault.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static long fault_at = -1;
static int kill_mode = 0;
static long calls = 0;
static int fired = 0;
static const char *fired_call = "-";
static const char *report_path = NULL;
static int trace_fd = -1;
static const char *skip_text = NULL;
static const char *only_text = NULL;

extern char *program_invocation_short_name;

__attribute__((constructor)) static void shim_init(void) {
    /* Only evault itself: not setsid or any other program the test starts. */
    if (strcmp(program_invocation_short_name, "evault") != 0) return;
    const char *at = getenv("EVAULT_FAULT_AT");
    const char *mode = getenv("EVAULT_FAULT_MODE");
    if (at) fault_at = atol(at);
    kill_mode = mode && strcmp(mode, "kill") == 0;
    report_path = getenv("EVAULT_FAULT_REPORT");
    const char *trace = getenv("EVAULT_FAULT_TRACE");
    if (trace) trace_fd = open(trace, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    skip_text = getenv("EVAULT_FAULT_SKIP");
    only_text = getenv("EVAULT_FAULT_ONLY");
}

#define REAL(name) \
    static __typeof__(&name) real_##name = NULL; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

__attribute__((destructor)) static void shim_report(void) {
    if (!report_path) return;
    REAL(write);
    int fd = open(report_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    char line[64];
    int length = snprintf(line, sizeof line, "%ld %d %s\n", __atomic_load_n(&calls, __ATOMIC_SEQ_CST), fired, fired_call);
    if (length > 0) (void)real_write(fd, line, (size_t)length);
    close(fd);
}

/* Returns 1 if this call must fail (errno set); kills the process in kill mode. */
/* With EVAULT_FAULT_TRACE, one line per counted call: "N CALL TARGET". */
/* The file a call changes: the path given, or what the descriptor names. */
static void target_of(int fd, const char *path, char *target, size_t size) {
    target[0] = 0;
    if (path) {
        snprintf(target, size, "%s", path);
    } else if (fd >= 0) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        ssize_t got = readlink(link, target, size - 1);
        target[got > 0 ? got : 0] = 0;
    }
}

static void trace_call(long n, const char *call, int fd, const char *path) {
    if (trace_fd < 0) return;
    REAL(write);
    char target[512];
    target_of(fd, path, target, sizeof target);
    char line[640];
    int length = snprintf(line, sizeof line, "%ld %s %s\n", n, call, target);
    if (length > 0) (void)real_write(trace_fd, line, (size_t)length);
}

/* Whether a call on this descriptor or path is left alone (EVAULT_FAULT_SKIP, EVAULT_FAULT_ONLY). */
static int filtered_out(int fd, const char *path) {
    if (!skip_text && !only_text) return 0;
    char target[512];
    target_of(fd, path, target, sizeof target);
    if (skip_text && strstr(target, skip_text)) return 1;
    if (only_text && !strstr(target, only_text)) return 1;
    return 0;
}

static int fault_on(const char *call, int fd, const char *path) {
    if (filtered_out(fd, path)) return 0;
    long n = __atomic_add_fetch(&calls, 1, __ATOMIC_SEQ_CST);
    trace_call(n, call, fd, path);
    if (n != fault_at) return 0;
    fired = 1;
    fired_call = call;
    if (kill_mode) {
        kill(getpid(), SIGKILL);
        for (;;) pause();
    }
    errno = EIO;
    return 1;
}

ssize_t write(int fd, const void *buffer, size_t count) {
    REAL(write);
    if (fd > 2 && fault_on("write", fd, NULL)) return -1;
    return real_write(fd, buffer, count);
}

ssize_t pwrite(int fd, const void *buffer, size_t count, off_t offset) {
    REAL(pwrite);
    if (fault_on("pwrite", fd, NULL)) return -1;
    return real_pwrite(fd, buffer, count, offset);
}

ssize_t pwrite64(int fd, const void *buffer, size_t count, off64_t offset) {
    REAL(pwrite64);
    if (fault_on("pwrite64", fd, NULL)) return -1;
    return real_pwrite64(fd, buffer, count, offset);
}

ssize_t writev(int fd, const struct iovec *vector, int count) {
    REAL(writev);
    if (fd > 2 && fault_on("writev", fd, NULL)) return -1;
    return real_writev(fd, vector, count);
}

int fsync(int fd) {
    REAL(fsync);
    if (fault_on("fsync", fd, NULL)) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    if (fault_on("fdatasync", fd, NULL)) return -1;
    return real_fdatasync(fd);
}

int ftruncate(int fd, off_t length) {
    REAL(ftruncate);
    if (fault_on("ftruncate", fd, NULL)) return -1;
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off64_t length) {
    REAL(ftruncate64);
    if (fault_on("ftruncate64", fd, NULL)) return -1;
    return real_ftruncate64(fd, length);
}

int rename(const char *from, const char *to) {
    REAL(rename);
    if (fault_on("rename", -1, from)) return -1;
    return real_rename(from, to);
}

int renameat(int fromFolder, const char *from, int toFolder, const char *to) {
    REAL(renameat);
    if (fault_on("renameat", -1, from)) return -1;
    return real_renameat(fromFolder, from, toFolder, to);
}

int linkat(int fromFolder, const char *from, int toFolder, const char *to, int flags) {
    REAL(linkat);
    if (fault_on("linkat", -1, from)) return -1;
    return real_linkat(fromFolder, from, toFolder, to, flags);
}

int unlink(const char *path) {
    REAL(unlink);
    if (fault_on("unlink", -1, path)) return -1;
    return real_unlink(path);
}

int unlinkat(int folder, const char *path, int flags) {
    REAL(unlinkat);
    if (fault_on("unlinkat", -1, path)) return -1;
    return real_unlinkat(folder, path, flags);
}
