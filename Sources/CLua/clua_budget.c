// The instruction budget, without a hook on every call.
//
// Lua 5.4 traps every VM instruction of a thread that has a count hook (luaG_traceexec
// runs per instruction, whatever the count), which cost every handler 20-30% when the
// budget's hook was always set. So a host call now starts with no hook on the threads the
// host runs (the main thread and the task it resumes). A watchdog thread samples a
// generation counter the host bumps at the start and end of each outermost call; when
// the same call is still running after WATCH_SLICE_MS, it sends SIGURG to the thread
// running it, whose handler arms the count hook on those threads (lua_sethook is safe in
// a signal handler: lua.c's laction does the same for SIGINT, and the VM re-reads its
// trap flag at every jump and loop). From then the budget counts as before. So: a host
// call is stopped after at most about WATCH_SLICE_MS (plus one sampling period and the
// time the thread takes to be scheduled) and then `budget` instructions more.
//
// Coroutines a script makes itself keep the hook all the time (coroutine.resume, wrap
// and close set it on the thread they run: clua_budget_guard_coroutines), so no
// coroutine escapes the watchdog's arming, which reaches only the threads the host
// entered. Their instructions count from the start of the call, as before.
//
// Past the budget the hook raises, and is armed at every instruction on the threads the
// host entered and on whichever thread runs next, so a pcall in the script cannot
// swallow the error: the very next instruction raises again. The host clears this at
// the start of its next call.
//
// Each state has its own watchdog, and each outermost call records the thread running it
// (loop_thread) and the state it runs (watched_host, thread-local): with `--queues N`, N
// loop threads each run their own states, and a state's watchdog signals only the thread
// of that state's call (MultiQueueKernelTests stops a runaway handler on each queue).
//
// The old always-on hook remains when a fuzz target asks to be told of every line run
// (clua_set_line_observer: the same hook takes line events too) or when the watchdog
// thread cannot be started. With no budget (0) nothing is hooked but script coroutines.
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "clua_internal.h"

enum { MAXIMUM_HOOK_STEP = 1000 };
enum { WATCH_SLICE_MS = 2, WATCH_PERIOD_US = 1000, WATCH_PARK_AFTER_IDLE_PERIODS = 200 };
enum { BUDGET_OFF, BUDGET_ALWAYS, BUDGET_WATCHED };

struct clua_watchdog {
    pthread_t thread;
    _Atomic unsigned long loop_thread;   /* the pthread_t running the current call */
    _Atomic uint64_t generation;         /* odd while an outermost call runs */
    _Atomic uint64_t signalled;          /* the generation the watchdog asked to arm */
    _Atomic int parked;
    _Atomic int stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

static clua_line_observer line_observer;

/* The host whose call this thread runs, for the signal handler. */
static _Thread_local clua_host *watched_host;

void clua_set_line_observer(clua_line_observer observer) { line_observer = observer; }

static int hook_mask(void) { return LUA_MASKCOUNT | (line_observer ? LUA_MASKLINE : 0); }

static void budget_hook(lua_State *L, lua_Debug *event);

/* Sets the budget's hook, every `step` instructions, on the threads the host entered. */
static void arm_entered(clua_host *host, int step) {
    lua_sethook(host->L, budget_hook, hook_mask(), step);
    int count = host->entered_count;
    for (int i = 0; i < count && i < CLUA_ENTERED_THREADS; i++)
        lua_sethook(host->entered[i], budget_hook, hook_mask(), step);
}

static void budget_hook(lua_State *L, lua_Debug *event) {
    if (event->event == LUA_HOOKLINE) {
        if (line_observer && lua_getinfo(L, "S", event)) line_observer(event->source, event->currentline);
        return;
    }
    clua_host *host = clua_host_of(L);
    host->instructions_executed += lua_gethookcount(L);
    /* A SIGINT may have set the interrupt hook while this one ran, and the sethook below
       would then replace it: the request itself is what counts. */
    clua_raise_if_interrupted(L, host);

    int over = host->budget_exceeded
        || (host->instruction_budget > 0 && host->call_depth > 0
            && host->instructions_executed > host->instruction_budget);
    if (!over) {
        /* A coroutine may still carry the every-instruction count from an earlier call. */
        if (lua_gethookcount(L) != host->hook_step)
            lua_sethook(L, budget_hook, hook_mask(), host->hook_step);
        return;
    }
    if (!host->budget_exceeded) {
        host->budget_exceeded = 1;
        host->budget_armed = 1;
        /* The resumers of a script coroutine raise too, at their next count, as the
           threads that always carried the hook did. */
        if (host->budget_mode == BUDGET_WATCHED) arm_entered(host, host->hook_step);
    }
    if (lua_gethookcount(L) != 1)
        lua_sethook(L, budget_hook, hook_mask(), 1);
    /* Level 0: inside a hook that is the Lua function running, whose line we want. */
    luaL_where(L, 0);
    lua_pushfstring(L, "instruction budget exceeded (%I instructions)",
                    (LUAI_UACINT)host->instruction_budget);
    lua_concat(L, 2);
    lua_error(L);
}

/* ---- the watchdog ---- */

static uint64_t now_microseconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

/* SIGURG on the thread running a call that outlived its slice. */
static void on_watchdog_signal(int signal_number) {
    (void)signal_number;
    int saved_errno = errno;
    clua_host *host = watched_host;
    if (host != NULL && host->watchdog != NULL && !host->budget_armed) {
        uint64_t generation = atomic_load(&host->watchdog->generation);
        if ((generation & 1) && generation == atomic_load(&host->watchdog->signalled)) {
            host->budget_armed = 1;
            arm_entered(host, host->hook_step);
        }
    }
    errno = saved_errno;
}

static void *watch(void *context) {
    struct clua_watchdog *watchdog = context;
    uint64_t seen = 0, seen_since = 0;
    int idle_periods = 0;
    while (!atomic_load(&watchdog->stop)) {
        struct timespec period = { 0, WATCH_PERIOD_US * 1000L };
        nanosleep(&period, NULL);
        uint64_t generation = atomic_load(&watchdog->generation);
        if (generation != seen) {
            seen = generation;
            seen_since = now_microseconds();
            idle_periods = 0;
            continue;
        }
        if (generation & 1) {
            if (now_microseconds() - seen_since >= WATCH_SLICE_MS * 1000u
                && atomic_load(&watchdog->signalled) != generation) {
                atomic_store(&watchdog->signalled, generation);
                pthread_kill((pthread_t)atomic_load(&watchdog->loop_thread), SIGURG);
            }
        } else if (++idle_periods >= WATCH_PARK_AFTER_IDLE_PERIODS) {
            /* Nothing ran for a while: sleep until a call starts (no wakeups when idle). */
            pthread_mutex_lock(&watchdog->mutex);
            atomic_store(&watchdog->parked, 1);
            while (atomic_load(&watchdog->generation) == seen && !atomic_load(&watchdog->stop))
                pthread_cond_wait(&watchdog->wake, &watchdog->mutex);
            atomic_store(&watchdog->parked, 0);
            pthread_mutex_unlock(&watchdog->mutex);
            idle_periods = 0;
        }
    }
    return NULL;
}

static void install_signal_handler(void) {
    struct sigaction action = { 0 };
    action.sa_handler = on_watchdog_signal;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);
    sigaction(SIGURG, &action, NULL);
}

/* The watchdog of a host, started at its first watched call; NULL if it cannot be. */
static struct clua_watchdog *start_watchdog(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_signal_handler);
    struct clua_watchdog *watchdog = calloc(1, sizeof *watchdog);
    if (watchdog == NULL) return NULL;
    pthread_mutex_init(&watchdog->mutex, NULL);
    pthread_cond_init(&watchdog->wake, NULL);
    /* The watchdog takes no signal (a process-wide SIGINT must reach the loop thread). */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    int failed = pthread_create(&watchdog->thread, NULL, watch, watchdog);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (failed) {
        pthread_cond_destroy(&watchdog->wake);
        pthread_mutex_destroy(&watchdog->mutex);
        free(watchdog);
        return NULL;
    }
    return watchdog;
}

static void stop_watchdog(struct clua_watchdog *watchdog) {
    pthread_mutex_lock(&watchdog->mutex);
    atomic_store(&watchdog->stop, 1);
    pthread_cond_signal(&watchdog->wake);
    pthread_mutex_unlock(&watchdog->mutex);
    pthread_join(watchdog->thread, NULL);
    pthread_cond_destroy(&watchdog->wake);
    pthread_mutex_destroy(&watchdog->mutex);
    free(watchdog);
}

/* ---- the host's side ---- */

static int hook_step_for(int64_t budget) {
    if (budget <= 0 || budget > MAXIMUM_HOOK_STEP) return MAXIMUM_HOOK_STEP;
    return (int)budget;
}

void clua_budget_install(clua_host *host) {
    host->hook_step = hook_step_for(host->instruction_budget);
    if (line_observer != NULL || host->watchdog_failed) host->budget_mode = BUDGET_ALWAYS;
    else if (host->instruction_budget <= 0) host->budget_mode = BUDGET_OFF;
    else host->budget_mode = BUDGET_WATCHED;
    clua_budget_rearm(host->L);
}

/* 1 when L is a thread the host runs (so the watchdog reaches it), not a script's own. */
static int entered(clua_host *host, lua_State *L) {
    if (L == host->L) return 1;
    int count = host->entered_count;
    for (int i = 0; i < count && i < CLUA_ENTERED_THREADS; i++)
        if (host->entered[i] == L) return 1;
    return 0;
}

void clua_budget_rearm(lua_State *L) {
    clua_host *host = clua_host_of(L);
    if (host->budget_mode == BUDGET_ALWAYS || host->budget_armed || !entered(host, L))
        lua_sethook(L, budget_hook, hook_mask(), host->budget_exceeded ? 1 : host->hook_step);
    else
        lua_sethook(L, NULL, 0, 0);
}

void clua_budget_enter_thread(clua_host *host, lua_State *thread) {
    int count = host->entered_count;
    if (count < CLUA_ENTERED_THREADS) {
        host->entered[count] = thread;
        host->entered_count = count + 1;  /* after the slot: the signal handler reads both */
        clua_budget_rearm(thread);
    } else {
        /* Too deep for the watchdog to reach: this thread counts all the time. */
        lua_sethook(thread, budget_hook, hook_mask(), host->hook_step);
        host->entered_count = count + 1;
    }
}

void clua_budget_leave_thread(clua_host *host) {
    host->entered_count--;
}

void clua_budget_begin_call(clua_host *host) {
    if (host->call_depth++ > 0) return;
    host->instructions_executed = 0;
    host->budget_exceeded = 0;
    host->budget_armed = 0;
    host->entered_count = 0;
    if (host->budget_mode == BUDGET_WATCHED && host->watchdog == NULL) {
        host->watchdog = start_watchdog();
        if (host->watchdog == NULL) {
            host->watchdog_failed = 1;
            clua_budget_install(host);
        }
    }
    if (host->budget_mode != BUDGET_WATCHED) {
        if (host->budget_mode == BUDGET_ALWAYS)
            lua_sethook(host->L, budget_hook, hook_mask(), host->hook_step);  /* also resets the count */
        else
            lua_sethook(host->L, NULL, 0, 0);
        return;
    }
    if (lua_gethook(host->L) != NULL) lua_sethook(host->L, NULL, 0, 0);
    host->previous_watched_host = watched_host;
    watched_host = host;
    struct clua_watchdog *watchdog = host->watchdog;
    unsigned long self = (unsigned long)pthread_self();
    if (atomic_load_explicit(&watchdog->loop_thread, memory_order_relaxed) != self)
        atomic_store(&watchdog->loop_thread, self);
    /* Odd: a call runs. Only this thread writes the generation, so a store does; a
       sequentially consistent one, so that either the watchdog going to sleep sees it
       or this thread sees it parked (and wakes it). */
    uint64_t generation = atomic_load_explicit(&watchdog->generation, memory_order_relaxed);
    atomic_store(&watchdog->generation, generation + 1);
    if (atomic_load(&watchdog->parked)) {
        pthread_mutex_lock(&watchdog->mutex);
        pthread_cond_signal(&watchdog->wake);
        pthread_mutex_unlock(&watchdog->mutex);
    }
    /* The loop thread must take SIGURG (a caller may have blocked signals). */
    if (!host->signal_unblocked) {
        sigset_t urgent;
        sigemptyset(&urgent);
        sigaddset(&urgent, SIGURG);
        pthread_sigmask(SIG_UNBLOCK, &urgent, NULL);
        host->signal_unblocked = 1;
    }
}

void clua_budget_end_call(clua_host *host) {
    if (--host->call_depth > 0) return;
    struct clua_watchdog *watchdog = host->watchdog;
    uint64_t generation = watchdog ? atomic_load_explicit(&watchdog->generation, memory_order_relaxed) : 0;
    if (generation & 1) {
        /* Even: no call. Nothing waits on this one: a release store is enough. */
        atomic_store_explicit(&watchdog->generation, generation + 1, memory_order_release);
        watched_host = host->previous_watched_host;
    }
}

void clua_budget_close(clua_host *host) {
    if (host->watchdog != NULL) {
        stop_watchdog(host->watchdog);
        host->watchdog = NULL;
    }
    if (watched_host == host) watched_host = host->previous_watched_host;
    /* What still runs (to-be-closed variables at lua_close) counts as it always did. */
    host->watchdog_failed = 1;
    clua_budget_install(host);
}

void clua_set_instruction_budget(clua_host *host, int64_t budget) {
    host->instruction_budget = budget;
    clua_budget_install(host);
}

int64_t clua_instruction_budget(const clua_host *host) { return host->instruction_budget; }

/* ---- coroutines a script makes ---- */

static void hook_script_thread(lua_State *L, lua_State *thread) {
    if (thread != NULL && lua_gethook(thread) == NULL)
        lua_sethook(thread, budget_hook, hook_mask(), clua_host_of(L)->hook_step);
}

/* coroutine.resume and coroutine.close, with the thread hooked first: the original
   function is upvalue 1. */
static int guarded_run(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTHREAD);
    hook_script_thread(L, lua_tothread(L, 1));
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* coroutine.wrap: the original's function, its thread (its upvalue) hooked. */
static int guarded_wrap(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    if (lua_getupvalue(L, -1, 1) != NULL) {
        hook_script_thread(L, lua_tothread(L, -1));
        lua_pop(L, 1);
    }
    return 1;
}

void clua_budget_guard_coroutines(lua_State *L) {
    static const struct { const char *name; lua_CFunction guard; } guarded[] = {
        { "resume", guarded_run }, { "close", guarded_run }, { "wrap", guarded_wrap },
    };
    lua_getglobal(L, LUA_COLIBNAME);
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
        lua_getfield(L, -1, guarded[i].name);
        lua_pushcclosure(L, guarded[i].guard, 1);
        lua_setfield(L, -2, guarded[i].name);
    }
    lua_pop(L, 1);
}
