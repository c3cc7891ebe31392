#ifndef TAPIR_CLUA_INTERNAL_H
#define TAPIR_CLUA_INTERNAL_H

#include <signal.h>
#include "CLua.h"

#define CLUA_SMALL_STEP 16
#define CLUA_SMALL_CLASSES 16
#define CLUA_SMALL_KEPT (256 * 1024)

enum { CLUA_FAST_DEVICES = 64, CLUA_ENTERED_THREADS = 8 };

struct clua_host {
    lua_State *L;
    clua_callbacks callbacks;
    clua_runtime_callbacks runtime;  /* set by clua_install_runtime; zero until then */
    int trusted;

    /* Memory, kept by the allocator (clua_memory.c). */
    size_t memory_used;
    size_t memory_peak;
    size_t memory_cap;
    uint64_t allocations;      /* calls that allocated or resized a block, ever */
    uint64_t bytes_allocated;  /* bytes those calls added, ever */
    /* Freed small blocks kept for reuse (clua_memory.c): a list per size class, linked
       through each block's first word, and the bytes they hold. */
    void *small_blocks[CLUA_SMALL_CLASSES];
    size_t small_bytes;

    /* Instruction budget (clua_budget.c). */
    int64_t instruction_budget;
    int64_t instructions_executed;  /* during the current outermost host call */
    int hook_step;                  /* count hook granularity while under budget */
    int budget_exceeded;            /* sticky until control is back in the host */
    int call_depth;                 /* nesting of host calls (callbacks may re-enter) */
    int budget_mode;                /* off, always hooked, or watched (clua_budget.c) */
    volatile sig_atomic_t budget_armed;  /* the hook is on for the rest of this call */
    struct clua_watchdog *watchdog; /* NULL until the first watched call */
    int watchdog_failed;
    int signal_unblocked;
    struct clua_host *previous_watched_host;
    /* The threads the host runs in this call, main thread aside (a task it resumed). */
    lua_State *volatile entered[CLUA_ENTERED_THREADS];
    volatile sig_atomic_t entered_count;
    /* Set by the console's SIGINT handler (clua_console.c); whichever hook runs next,
       the interrupt's own or the budget's, raises "interrupted!" and clears it. */
    volatile sig_atomic_t interrupt_requested;

    /* A Lua warning being gathered from its pieces (clua_host.c). */
    char warning[512];
    size_t warning_length;
    int warning_continues;
    int warnings_off;

    /* Registry slots (0: not made yet) of the table of device userdata, one per device id,
       and of the metatables checked on every packet, so those checks need no string lookup. */
    int device_cache_ref;
    /* Registry slots of the first devices' userdata (0: not made yet), so a handler call
       pushes its device with one lookup and without the chance of an allocation. */
    int device_refs[CLUA_FAST_DEVICES];
    /* Their userdata blocks, and the reused packet's layer proxies' (NULL: not made):
       a block found here is known to be of its type with no metatable look. These
       objects are never collected (the registry holds them), so an address is never
       reused by another object while it is listed. */
    void *device_blocks[CLUA_FAST_DEVICES];
    int device_blocks_used;  /* 1 + the highest id listed */
    void *layer_proxy_blocks[CLUA_MAX_LAYERS];
    int packet_metatable_ref;
    int layer_metatable_ref;
    /* The packet object handlers get (clua_packet_install), or NULL. */
    struct clua_packet *reused_packet;

    /* Tasks (clua_tasks.c): the host's callbacks, the registry slot of the table from each
       task's thread to its task_ref (0: not made yet), and how many are alive. */
    clua_task_callbacks tasks;
    int task_table_ref;
    int task_count;
    /* TCP (clua_tcp.c): the host's callbacks. */
    clua_tcp_callbacks tcp;
};

/* Blocks of up to CLUA_SMALL_CLASSES * CLUA_SMALL_STEP bytes come in sizes of whole steps
   and are kept for reuse when freed, up to CLUA_SMALL_KEPT bytes a state. */
void clua_free_small_blocks(clua_host *host);

/* The host of a state: the allocator's userdata, shared by all its threads. */
static inline clua_host *clua_host_of(lua_State *L) {
    void *host = NULL;
    lua_getallocf(L, &host);
    return (clua_host *)host;
}

/* The runtime (clua_runtime.c): the host's callbacks, raising if they are not installed
   (inline: dev:write asks for them per packet); what the host answers to a query,
   pushed; and each part's install, adding its functions to the tapir table at index
   `tapir` (clua_timers.c, clua_devices.c). */
static inline clua_runtime_callbacks *clua_runtime_of(lua_State *L) {
    clua_runtime_callbacks *runtime = &clua_host_of(L)->runtime;
    if (runtime->schedule == NULL) luaL_error(L, "the tapir runtime is not available here");
    return runtime;
}
void clua_push_query(lua_State *L, clua_runtime_callbacks *runtime, int what, int64_t argument);
void clua_install_timers(lua_State *L, int tapir);
void clua_install_devices(lua_State *L, int tapir);

/* Tasks (clua_tasks.c). The task_ref of the running thread L, or raises "<name>: ... only
   inside a task" when L is not a task the host runs (or cannot yield here). */
int clua_current_task(lua_State *L, const char *name);
/* Inside a task: tells the host what it waits for and yields; `k` continues the calling
   C function with its stack as it was, plus a boolean on top: true when the timeout
   passed first. Raises what the host refuses. */
int clua_task_wait(lua_State *L, const char *name, int kind, int64_t object, int64_t timeout_ms,
                   lua_KContext context, lua_KFunction k);
/* Tells the host task_ref is ready to run; raises what it refuses. */
void clua_task_ready(lua_State *L, int task_ref);

/* Reads an options table (string keys; string, integer or boolean values) at `table`
   into `options` (CLUA_MAX_KEYS at most); the strings stay valid while the table is on
   the stack. Raises naming argument `table`. Returns how many. */
int clua_read_options(lua_State *L, int table, clua_key *options);

/* The device at `index` (raises a type error naming the argument if it is not one). */
void clua_check_device(lua_State *L, int index);
/* Writes bytes to the device at `index` and pushes true (written) or false (dropped,
   counted); raises what the host reports. */
int clua_device_write(lua_State *L, int index, const uint8_t *bytes, size_t length);

/* pkt:ethernet_header, pkt:ipv4_header, pkt:ipv6_header and pkt:forward (clua_forward.c):
   set as fields of the table on top of the stack (the packet keys). */
void clua_forward_install_methods(lua_State *L);

/* 1 when clua_push_device(L, id) pushes a cached value: no allocation, no error. */
int clua_device_is_cached(const clua_host *host, int64_t id);

void *clua_allocate(void *host, void *block, size_t old_size, size_t new_size);

/* Keeps the metatable on top of the stack in an integer registry slot (into *slot). */
static inline void clua_keep_metatable(lua_State *L, int *slot) {
    lua_pushvalue(L, -1);
    *slot = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* luaL_checkudata with the metatable taken from an integer registry slot rather than
   looked up by name (a string-cache lookup per call); luaL_checkudata gives the error. */
static inline void *clua_check_udata(lua_State *L, int index, int metatable_slot, const char *name) {
    void *block = lua_touserdata(L, index);
    if (block != NULL && metatable_slot != 0 && lua_getmetatable(L, index)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, metatable_slot);
        int same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (same) return block;
    }
    return luaL_checkudata(L, index, name);
}

/* Puts on the reused packet at `index` the metatable for its layers (clua_packet.c): the
   live one if one is kept (then `pkt.ip` is found without calling C), else its own. No
   allocation, no error: for the handler call, with the packet just pushed. */
void clua_packet_dress(lua_State *L, struct clua_packet *packet, int index);
/* Puts its own metatable back on the reused packet if it is unbound and wears a live one,
   before Lua code other than a handler runs. No allocation, no error. */
void clua_packet_wear_own(clua_host *host);

void clua_budget_install(clua_host *host);
/* Puts the budget's hook back on thread L, in place of any other hook (none on a thread
   the host runs while the watchdog has not armed it; always on a script's coroutine). */
void clua_budget_rearm(lua_State *L);
void clua_budget_begin_call(clua_host *host);
void clua_budget_end_call(clua_host *host);
/* Around the host's lua_resume of a thread, so the watchdog can arm it. */
void clua_budget_enter_thread(clua_host *host, lua_State *thread);
void clua_budget_leave_thread(clua_host *host);
/* Stops the watchdog; what runs after counts with the hook always on. */
void clua_budget_close(clua_host *host);
/* coroutine.resume, wrap and close set the budget's hook on the thread they run. */
void clua_budget_guard_coroutines(lua_State *L);
/* Raises "interrupted!" if the console asked for it (clears the request). */
void clua_raise_if_interrupted(lua_State *L, clua_host *host);

/* Runs body(L) with a traceback message handler; fills result. nresults as lua_pcall. */
int clua_protected(clua_host *host, lua_CFunction body, void *userdata, int nresults,
                   clua_result *result);
/* The userdata given to clua_protected, from inside the body. */
void *clua_protected_userdata(lua_State *L);

/* Inside a protected call: open the libraries the options allow, sandboxed. */
void clua_open_libraries(lua_State *L, const clua_options *options);
/* Inside a protected call: make the tapir table (global and package.loaded.tapir). */
void clua_open_tapir(lua_State *L);
/* package.preload["tapir.proto.dns_native"]: the C core of tapir.proto.dns (clua_dns.c). */
void clua_preload_dns(lua_State *L);

#endif
