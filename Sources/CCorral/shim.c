#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <malloc.h>
#include <sys/wait.h>
#include <grp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <string.h>
#include "CCorral.h"

int corral_errno(void) { return errno; }


int corral_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int corral_epoll_ctl(int epfd, int op, int fd, uint32_t events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    return epoll_ctl(epfd, op, fd, &ev);
}

// Waits and converts into the caller's array; `scratch` holds `max` raw epoll events.
static int epoll_pwait2_missing;

int corral_epoll_wait(int epfd, struct epoll_event *scratch, corral_event *out,
                                    int max, int64_t timeout_ns) {
    int n = -1;
#ifdef SYS_epoll_pwait2
    if (timeout_ns > 0 && !epoll_pwait2_missing) {
        // (asyncio's timers are due to the microsecond: a millisecond's rounding made each late.)
        struct timespec timeout = { timeout_ns / 1000000000, timeout_ns % 1000000000 };
        n = (int)syscall(SYS_epoll_pwait2, epfd, scratch, max, &timeout, NULL, 0);
        if (n < 0 && errno == ENOSYS) epoll_pwait2_missing = 1;
    }
#endif
    if (n < 0 && (timeout_ns <= 0 || epoll_pwait2_missing)) {
        int timeout_ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(epfd, scratch, max, timeout_ms);
    }
    for (int i = 0; i < n; i++) {
        out[i].events = scratch[i].events;
        out[i].fd = scratch[i].data.fd;
    }
    return n;
}

size_t corral_epoll_event_size(void) { return sizeof(struct epoll_event); }

int corral_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

// A signalfd for `signals`, which are blocked in the calling thread first.
int corral_signalfd(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static pthread_t forward_target;
static sigset_t forwarded;

static pid_t forward_pid;

static void forward_signal(int signo, siginfo_t *info, void *context) {
    (void)context;
    int saved = errno;
    if (getpid() != forward_pid) {
        // A child forked without exec, before its atfork handler ran: not this worker.
        signal(signo, SIG_DFL);
        raise(signo);
    } else if (info != NULL && info->si_code == SI_QUEUE) {
        // With its value (corrald's TERM that says "replaced, not stopped"): one syscall, as pthread_kill.
        pthread_sigqueue(forward_target, signo, info->si_value);
    } else {
        pthread_kill(forward_target, signo);   // async-signal-safe; pending there for the signalfd
    }
    errno = saved;
}

// A child forked without exec (multiprocessing) is not this worker: its TERM must terminate it,
// not be sent to a loop thread it does not have.
static void restore_default_signals_in_child(void) {
    for (int signo = 1; signo < NSIG; signo++) {
        if (signo != SIGPIPE && sigismember(&forwarded, signo) == 1) signal(signo, SIG_DFL);
    }
}

int corral_forward_signals(pthread_t loop_thread, const int *signals, int count) {
    static int registered = 0;
    if (!registered && pthread_atfork(NULL, NULL, restore_default_signals_in_child) != 0) return -1;
    registered = 1;
    forward_target = loop_thread;
    forward_pid = getpid();
    sigemptyset(&forwarded);
    sigaddset(&forwarded, SIGPIPE);
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) return -1;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = forward_signal;
    action.sa_flags = SA_RESTART | SA_SIGINFO;
    sigfillset(&action.sa_mask);
    for (int i = 0; i < count; i++) {
        if (signals[i] == SIGPIPE) continue;
        sigaddset(&forwarded, signals[i]);
        if (sigaction(signals[i], &action, NULL) != 0) return -1;
    }
    return 0;
}

void corral_unblock_forwarded_signals(void) { pthread_sigmask(SIG_UNBLOCK, &forwarded, NULL); }

// Reads one pending signal number from a signalfd, 0 when none, -1 on error.
int corral_signalfd_read(int fd, int *value) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return n < 0 && errno == EAGAIN ? 0 : -1;
    *value = info.ssi_code == SI_QUEUE ? info.ssi_int : 0;
    return (int)info.ssi_signo;
}

int corral_sigqueue(pid_t pid, int signo, int value) {
    union sigval sv;
    sv.sival_int = value;
    return sigqueue(pid, signo, sv);
}

int corral_accept(int fd, struct sockaddr_storage *addr, socklen_t *len) {
    return accept4(fd, (struct sockaddr *)addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// Renders a peer address as text ("127.0.0.1", "::1", or "" for unix sockets); returns length.
int corral_address_port(const struct sockaddr_storage *addr) {
    if (addr->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)addr)->sin_port);
    if (addr->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return -1;
}

int corral_format_address(const struct sockaddr_storage *addr, char *out, int cap) {
    if (addr->ss_family == AF_INET) {
        if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, out, cap)) return 0;
    } else if (addr->ss_family == AF_INET6) {
        if (!inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, out, cap)) return 0;
    } else {
        return 0;
    }
    int n = 0;
    while (n < cap && out[n]) n++;
    return n;
}

int corral_set_int_option(int fd, int level, int name, int value) {
    return setsockopt(fd, level, name, &value, sizeof value);
}

// Opens `path` relative to the directory `dirfd` and never outside it: the kernel refuses
// `..`, absolute paths and symlinks that leave the tree (RESOLVE_BENEATH). Where openat2 is
// unavailable (ENOSYS: old kernels, and seccomp filters such as systemd's RestrictSUIDSGID=,
// which cannot inspect its arguments), the path is walked one component at a time with
// O_NOFOLLOW: stricter, as no symlink is followed at all.
static int open_beneath_walking(int dirfd, const char *path, int flags) {
    if (path[0] == '/') { errno = EXDEV; return -1; }
    char component[256];
    int current = dirfd;
    const char *cursor = path;
    for (;;) {
        while (*cursor == '/') cursor++;
        const char *end = strchr(cursor, '/');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
        while (end && end[1] == '/') end++;
        int last = end == NULL || end[1] == '\0';
        if (length == 0) length = 1, component[0] = '.', component[1] = '\0';
        else {
            if (length >= sizeof component) { errno = ENAMETOOLONG; goto fail; }
            memcpy(component, cursor, length);
            component[length] = '\0';
        }
        if (strcmp(component, "..") == 0) { errno = EXDEV; goto fail; }
        int next = last ? openat(current, component, flags | O_CLOEXEC | O_NOFOLLOW)
                        : openat(current, component, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (current != dirfd) close(current);
        if (next < 0) return -1;
        if (last) return next;
        current = next;
        cursor = end + 1;
    }
fail:
    if (current != dirfd) close(current);
    return -1;
}

int corral_open_beneath(int dirfd, const char *path, int flags) {
    struct open_how how = {0};
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) return open_beneath_walking(dirfd, path, flags);
    return fd;
}

int corral_open_beneath_no_symlinks(int dirfd, const char *path, int flags) {
    struct open_how how = {0};
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
    int fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd < 0 && errno == ENOSYS) return open_beneath_walking(dirfd, path, flags);   // it follows none
    return fd;
}

int corral_filesystem_notifies(int fd) {
    struct statfs info;
    if (fstatfs(fd, &info) != 0) return -1;
    switch ((unsigned long)info.f_type) {
    case 0x6969UL:       // NFS
    case 0x517BUL:       // SMB
    case 0xFE534D42UL:   // SMB2
    case 0xFF534D42UL:   // CIFS
    case 0x65735546UL:   // FUSE (sshfs, virtiofs, ...)
    case 0x00C36400UL:   // Ceph
    case 0x5346414FUL:   // AFS
    case 0x01021997UL:   // 9p
    case 0x73757245UL:   // Coda
    case 0x47504653UL:   // GPFS
    case 0x0BD00BD0UL:   // Lustre
        return 0;
    default:
        return 1;
    }
}

int corral_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC));
}

int corral_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int corral_fd_limit(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    return rl.rlim_cur > 1048576 ? 1048576 : (int)rl.rlim_cur;
}

int64_t corral_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t corral_realtime_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void corral_release_free_memory(void) { malloc_trim(0); }

// Writes `value` in decimal at `out` (async-signal-safe, unlike snprintf).
static void write_decimal(char *out, long value) {
    char digits[24];
    int n = 0;
    do { digits[n++] = (char)('0' + value % 10); value /= 10; } while (value > 0);
    while (n > 0) *out++ = digits[--n];
    *out = 0;
}

int corral_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
                 int out_fd, int err_fd, int mask, int uid, int gid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(report[0]); close(report[1]);
        return -e;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to exec.
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        setpgid(0, 0);
        if (out_fd >= 0) dup2(out_fd, 1);
        if (err_fd >= 0) dup2(err_fd, 2);
        // Move the sockets above the target range first, so overlapping numbers cannot clobber.
        int high = 3 + nfds + 64;
        int moved[nfds > 0 ? nfds : 1];
        for (int i = 0; i < nfds; i++) moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, high);
        for (int i = 0; i < nfds; i++) {
            if (moved[i] < 0 || dup2(moved[i], 3 + i) < 0) goto fail;
            int flags = fcntl(3 + i, F_GETFD);
            fcntl(3 + i, F_SETFD, flags & ~FD_CLOEXEC);
        }
        for (int i = 0; envp[i]; i++) {
            if (strncmp(envp[i], "LISTEN_PID=", 11) == 0) write_decimal(envp[i] + 11, (long)getpid());
        }
        umask((mode_t)mask);
        if (gid >= 0 && (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0)) goto fail;
        if (uid >= 0 && setuid((uid_t)uid) != 0) goto fail;
        // After setuid/setgid, which clear it. Then check that the supervisor did not die before
        // (not `getppid() == 1`: corrald may be PID 1 in a container).
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        execve(path, argv, envp);
    fail: {
            int e = errno;
            ssize_t ignored = write(report[1], &e, sizeof e);
            (void)ignored;
            _exit(127);
        }
    }
    close(report[1]);
    int child_errno = 0;
    ssize_t n;
    do { n = read(report[0], &child_errno, sizeof child_errno); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof child_errno) {
        waitpid(pid, NULL, 0);
        return -child_errno;
    }
    return pid;
}

int corral_receive_notification(int fd, char *buffer, int capacity, int *pid) {
    struct iovec iov = { .iov_base = buffer, .iov_len = (size_t)capacity };
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(struct ucred))]; } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control, .msg_controllen = sizeof control };
    *pid = 0;
    ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | MSG_TRUNC);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *pid = (int)cred.pid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            // sd_notify with fds (FDSTORE): not accepted from workers; close them.
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int fds[count > 0 ? count : 1];
            memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)count);
            for (int i = 0; i < count; i++) close(fds[i]);
        }
    }
    return n > capacity ? capacity : (int)n;
}

void corral_become_disposable_child(unsigned seconds) {
    // First, the descriptors a fork without exec would hold for its whole life: a file another
    // thread is writing (an executable: ETXTBSY for whoever runs it), sockets, pipes.
    if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
        for (int fd = 3; fd < 4096; fd++) close(fd);
    }
    static const int crashes[] = { SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS };
    for (size_t i = 0; i < sizeof crashes / sizeof *crashes; i++) signal(crashes[i], SIG_DFL);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 1);
        dup2(null, 2);
        close(null);
    }
    // The deadline must hold whatever the forking thread had blocked (a loop thread blocks the
    // signals its signalfd reads; a test runner more): a child stuck on a lock that another
    // thread held at the fork would otherwise wait forever, and its parent with it.
    signal(SIGALRM, SIG_DFL);
    sigset_t deadline;
    sigemptyset(&deadline);
    sigaddset(&deadline, SIGALRM);
    sigprocmask(SIG_UNBLOCK, &deadline, NULL);
    alarm(seconds);
}

void corral_set_process_name(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

int corral_sealed_memfd(const char *name, const void *bytes, size_t count) {
    int fd = memfd_create(name, MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < count) {
        ssize_t n = write(fd, (const char *)bytes + done, count - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { int saved = errno; close(fd); errno = saved; return -1; }
        done += (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        int saved = errno; close(fd); errno = saved; return -1;
    }
    return fd;
}

static int abort_report_fd = -1;

static void report_abort(int signal) {
    (void)signal;
    char byte = 1;
    ssize_t ignored = write(abort_report_fd, &byte, 1);
    (void)ignored;
}

int corral_report_abort_to(int fd) {
    abort_report_fd = fd;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = report_abort;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    return sigaction(SIGABRT, &action, NULL);
}

int corral_shared_region(const char *name, size_t size, void **writable) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    void *mapping = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0) mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mapping == MAP_FAILED || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) < 0) {
        int saved = errno;
        if (mapping != MAP_FAILED) munmap(mapping, size);
        close(fd);
        errno = saved;
        return -1;
    }
    *writable = mapping;
    return fd;
}

void corral_seqlock_write(void *region, const void *bytes, size_t count) {
    uint64_t *sequence = region;
    uint64_t next = __atomic_load_n(sequence, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(sequence, next, __ATOMIC_RELAXED);          // odd: a write is in progress
    __atomic_thread_fence(__ATOMIC_RELEASE);
    memcpy((char *)region + sizeof(uint64_t), bytes, count);
    __atomic_store_n(sequence, next + 1, __ATOMIC_RELEASE);      // even again: done
}

int corral_seqlock_read(const void *region, void *bytes, size_t count) {
    const uint64_t *sequence = region;
    for (int attempt = 0; attempt < 1000; attempt++) {
        uint64_t before = __atomic_load_n(sequence, __ATOMIC_ACQUIRE);
        if (before & 1) continue;
        memcpy(bytes, (const char *)region + sizeof(uint64_t), count);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(sequence, __ATOMIC_RELAXED) == before) return 1;
    }
    return 0;
}

int corral_exec_fd(int fd, char *const argv[], char *const envp[]) {
    return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}

int corral_open_own_binary(void) {
    return open("/proc/self/exe", O_PATH);
}

#ifndef CORRAL_VERSION
#define CORRAL_VERSION "0.4.0"
#endif

const char *corral_version(void) { return CORRAL_VERSION; }

int corral_send_with_fds(int socket, const void *buffer, size_t len, const int *fds, int nfds) {
    struct iovec iov = { .iov_base = (void *)buffer, .iov_len = len };
    union { struct cmsghdr align; char space[CMSG_SPACE(sizeof(int) * 8)]; } control;
    if (nfds < 0 || nfds > 8) return -EINVAL;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = &control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do { n = sendmsg(socket, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int corral_become_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }

int corral_await_adoption(int supervisor, int ms) {
    for (int waited = 0; getppid() != supervisor; waited++) {
        if (waited >= ms) return -1;
        usleep(1000);
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return getppid() == supervisor ? 0 : -1;
}

void corral_malloc_trim(void) {
    malloc_trim(0);
}
