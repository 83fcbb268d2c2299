// What Glibc's Swift module does not export (epoll, eventfd, signalfd, accept4, openat2...),
// as plain functions over plain types. The bodies live in shim.c, compiled with _GNU_SOURCE,
// which must not leak into this header (Swift's Glibc module is built without it).
#ifndef CCORRAL_H
#define CCORRAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

// epoll_event is packed and carries a union: expose it as fd + events.
typedef struct { uint32_t events; int32_t fd; } corral_event;

int corral_errno(void);
int corral_epoll_create(void);
int corral_epoll_ctl(int epfd, int op, int fd, uint32_t events);
// Waits at most timeout_ns (-1: without end), to the microsecond where the kernel has
// epoll_pwait2 (Linux 5.11), else rounded up to the millisecond.
int corral_epoll_wait(int epfd, struct epoll_event *scratch, corral_event *out,
                                    int max, int64_t timeout_ns);
size_t corral_epoll_event_size(void);
int corral_eventfd(void);
int corral_signalfd(const int *signals, int count);
// One pending signal's number (0: none; -1: error), and in `value` the int sent with sigqueue (else 0).
int corral_signalfd_read(int fd, int *value);
// sigqueue with an int: corrald's TERM to a worker it replaces carries 1.
int corral_sigqueue(pid_t pid, int signo, int value);
// For a process whose other threads (an embedded interpreter's) start child processes: those
// threads may unblock `signals`, and one they receive is sent on to `loop_thread`, which keeps
// them blocked for its signalfd; SIGPIPE is ignored. Then corral_unblock_forwarded_signals() in
// such a thread leaves the processes it starts no blocked signal.
int corral_forward_signals(pthread_t loop_thread, const int *signals, int count);
void corral_unblock_forwarded_signals(void);
int corral_accept(int fd, struct sockaddr_storage *addr, socklen_t *len);
int corral_format_address(const struct sockaddr_storage *addr, char *out, int cap);
// The port of an IPv4 or IPv6 address; -1 for any other family (a unix socket's peer).
int corral_address_port(const struct sockaddr_storage *addr);
int corral_set_int_option(int fd, int level, int name, int value);
int corral_open_beneath(int dirfd, const char *path, int flags);
// As corral_open_beneath, but no symlink may be on the way (ELOOP): what the open-file cache holds
// is only what inotify on the directories of the path itself can vouch for.
int corral_open_beneath_no_symlinks(int dirfd, const char *path, int flags);
// 1 when the file system `fd` is on reports every change through inotify (a local one), 0 for a
// network or FUSE file system (changes made elsewhere go unnoticed), -1 on error.
int corral_filesystem_notifies(int fd);
int corral_set_cloexec(int fd, int on);
int corral_set_nonblocking(int fd);
int corral_fd_limit(void);
int64_t corral_monotonic_ns(void);
int64_t corral_realtime_us(void);
// malloc_trim: gives whole free pages in the middle of the heap back to the system.
void corral_release_free_memory(void);

// A sealed memfd holding `bytes` (corrald's upgrade state): read-only for whoever gets it,
// close-on-exec cleared. -1 with errno on failure.
int corral_sealed_memfd(const char *name, const void *bytes, size_t count);
// SIGABRT (corrald's signal for a worker that missed its heartbeat) writes a byte to `fd`
// instead of ending the process at once: a thread reading `fd` reports what the blocked loop
// was doing before SIGKILL comes. 0, or -1 with errno.
int corral_report_abort_to(int fd);
// A shared memory region of `size` bytes (a memfd) that only this process can write: `*writable`
// is its mapping here, made before the memfd is sealed against every later writer
// (F_SEAL_FUTURE_WRITE), so the children that inherit the fd can only map it read-only.
// Returns the fd (close-on-exec set), or -1 with errno.
int corral_shared_region(const char *name, size_t size, void **writable);
// A sequence lock over `region`: a 64-bit counter, then `count` bytes of payload. One writer;
// readers in other processes retry while a write is in progress. `read` returns 1 when `bytes`
// holds a consistent copy, 0 when it gave up (a writer that died in the middle).
void corral_seqlock_write(void *region, const void *bytes, size_t count);
int corral_seqlock_read(const void *region, void *bytes, size_t count);
// execveat(fd, "", …, AT_EMPTY_PATH): runs the binary an O_PATH fd holds, whatever is now at its
// path (the upgrade's way back to the old binary). Returns only on failure.
int corral_exec_fd(int fd, char *const argv[], char *const envp[]);
// An O_PATH fd of the running binary (/proc/self/exe, even when the file was replaced), inherited
// across exec.
int corral_open_own_binary(void);

// Receives one sd_notify datagram on a SO_PASSCRED socket: returns its length (0 when none is
// waiting, -1 on error) and the sender's pid from SCM_CREDENTIALS in *pid (0 if absent).
int corral_receive_notification(int fd, char *buffer, int capacity, int *pid);

// Starts `path` the way systemd starts a socket-activated service: `fds[i]` become fds 3, 4, …
// (CLOEXEC cleared), LISTEN_FDS/LISTEN_PID are set with the child's own pid (envp must hold a
// "LISTEN_PID=" entry with room for the digits, rewritten in the child), stdout/stderr go to
// `out_fd`/`err_fd` (when >= 0), the child gets its own process group, all signals unblocked
// and default, PR_SET_PDEATHSIG(SIGKILL) so it never outlives its supervisor, `mask` as umask,
// and `gid`/`uid` (when >= 0). Returns the pid, or -errno.
int corral_spawn(const char *path, char *const argv[], char *const envp[], const int *fds, int nfds,
                 int out_fd, int err_fd, int mask, int uid, int gid);

// For a forked child that exists to crash in its parent's stead (TOMLSandbox): every descriptor
// above stderr closed, crash signals back to their default action (no Swift backtracer, no
// libFuzzer report), no core dump, stdout and stderr to /dev/null, and SIGALRM after `seconds`.
void corral_become_disposable_child(unsigned seconds);

// Sends `len` bytes on a connected unix socket with `nfds` descriptors (SCM_RIGHTS); 0, or -errno.
int corral_send_with_fds(int socket, const void *buffer, size_t len, const int *fds, int nfds);

// Orphaned descendants (preload_app's double-forked workers) become this process's children.
int corral_become_subreaper(void);

// For a double-forked child: waits up to `ms` for `supervisor` to become its parent (its own
// parent having exited), then dies with it (PR_SET_PDEATHSIG). 0, or -1 when it never did.
int corral_await_adoption(int supervisor, int ms);

// The process name `ps -o comm`, top and pgrep show (PR_SET_NAME; at most 15 bytes are kept).
void corral_set_process_name(const char *name);

// Gives the memory malloc holds free back to the system (glibc's malloc_trim(0)), after a burst.
void corral_malloc_trim(void);

// corral's version, as `corrald --version` and the control socket report it. A build may set it
// (-Xcc -DCORRAL_VERSION='"X"'); packaging/build-deb.sh checks it against the package's.
const char *corral_version(void);

#endif
