#ifndef TAPIR_CLUA_TASKS_H
#define TAPIR_CLUA_TASKS_H

/*
 * Tasks: coroutines the host runs, so a script can wait (tapir.spawn, tapir.sleep,
 * tapir.request, and the TCP sockets' receive, send and connect). A task is a Lua thread
 * anchored in the registry as task_ref. A function that waits tells the host what it
 * waits for (wait) and yields; the host resumes the task (clua_task_resume) when that
 * happens or when the wait's timeout passes. Each resume is one host call with its own
 * instruction budget. An error ends that task only; the host logs it like a handler's.
 */

#include <stdint.h>

/* What a task waits for. */
typedef enum clua_wait_kind {
    CLUA_WAIT_TIME = 1,        /* only the timeout (tapir.sleep) */
    CLUA_WAIT_WAKE = 2,        /* task_ready from elsewhere (tapir.request's answer), or the timeout */
    CLUA_WAIT_READABLE = 3,    /* a connection (object) has data, an end or an error */
    CLUA_WAIT_WRITABLE = 4,    /* a connection has room in its send buffer, or an error */
    CLUA_WAIT_CONNECTED = 5,   /* a connection opening (object) is established or failed */
} clua_wait_kind;

typedef struct clua_task_callbacks {
    void *context;
    /* Task task_ref is ready to run (a new task, or woken): resume it soon, ending any
       wait it is in. Returns 0, or -1 after writing a message into error (C raises). */
    int (*ready)(void *context, int task_ref, char *error);
    /* The running task task_ref waits for `kind` on `object`, at most timeout_ms (-1:
       no limit). Returns 0, or -1 with a message. */
    int (*wait)(void *context, int task_ref, int kind, int64_t object, int64_t timeout_ms, char *error);
} clua_task_callbacks;

/* Adds tapir.spawn, tapir.sleep and tapir.request. Protected; returns a status. */
int clua_install_tasks(clua_host *host, const clua_task_callbacks *callbacks, clua_result *result);

/* Resumes task_ref: its first run, or after its wait (timed_out: the timeout passed
   first). Returns LUA_YIELD when the task waits again, LUA_OK when it finished, or an
   error status with the task's message and traceback in result (the task is over). A
   finished or failed task's reference is released here. Release the result after. */
int clua_task_resume(clua_host *host, int task_ref, int timed_out, clua_result *result);

/* Starts a task running function_ref with one argument pushed by pusher(L, pointer)
   (nothing when pusher is NULL); *task_ref receives its reference. The host then calls
   ready itself (the callback is not called here). Protected; returns a status. */
int clua_task_start(clua_host *host, int function_ref, void (*pusher)(lua_State *L, const void *pointer),
                    const void *pointer, int *task_ref, clua_result *result);

/* Tasks alive in the state (started and not finished). */
int clua_task_count(clua_host *host);

#endif
