#ifndef TAPIR_CKERNEL_H
#define TAPIR_CKERNEL_H

// What the Kernel target needs from C: the Linux headers Swift's Glibc module leaves out
// (epoll, timerfd, signalfd, eventfd), and the calls Swift cannot make directly: variadic
// ones (prctl), those glibc declares only under _GNU_SOURCE (pipe2), and the wait-status
// macros. Every function returns a non-negative value on success and -errno on failure;
// none of them prints.

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/types.h>

/// pipe2(O_CLOEXEC): a pipe whose ends close on exec. 0, or -errno.
int tapir_pipe_cloexec(int fds[2]);

/// prctl(PR_SET_NO_NEW_PRIVS): no exec after a privilege drop regains a privilege
/// (setuid programs, file capabilities). 0, or -errno.
int tapir_set_no_new_privileges(void);

/// A waitpid status as a shell reports it: the exit status, or 128 + the signal number
/// when the child was killed by a signal; -1 for a status that is neither (stopped).
int tapir_wait_status_code(int status);

#endif
