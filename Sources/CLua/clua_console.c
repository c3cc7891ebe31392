// The console's native function and its Ctrl-C interrupt (see CLuaConsole.h).
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include "clua_internal.h"

typedef struct console_binding {
    clua_console_handler handler;
    void *context;
} console_binding;

/* __tapir_console_native(operation, [text], [integer], [number]) -> string or nothing */
static int console_native(lua_State *L) {
    console_binding *binding = lua_touserdata(L, lua_upvalueindex(1));
    clua_console_request request;
    memset(&request, 0, sizeof request);
    request.operation = luaL_checklstring(L, 1, &request.operation_length);
    if (lua_type(L, 2) == LUA_TSTRING) request.text = lua_tolstring(L, 2, &request.text_length);
    if (lua_isinteger(L, 3)) {
        request.integer = (int64_t)lua_tointeger(L, 3);
        request.has_integer = 1;
    }
    if (lua_type(L, 4) == LUA_TNUMBER) {
        request.number = (double)lua_tonumber(L, 4);
        request.has_number = 1;
    }
    const char *reply = NULL;
    size_t reply_length = 0;
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    if (binding->handler(binding->context, &request, &reply, &reply_length, error) != 0)
        return luaL_error(L, "%s", error[0] ? error : "console request failed");
    if (reply == NULL) return 0;
    lua_pushlstring(L, reply, reply_length);
    return 1;
}

/* ---- a prompt chunk in slices: it yields to the loop every few thousand instructions ---- */

/* The chunk's coroutine being sliced; coroutines it makes inherit the hook and get the
   budget hook back instead (their own yields are theirs). */
static lua_State *sliced_thread;

static void slice_hook(lua_State *L, lua_Debug *event) {
    (void)event;
    if (L != sliced_thread) {
        clua_budget_rearm(L);
        return;
    }
    clua_raise_if_interrupted(L, clua_host_of(L));
    /* Inside a C function that called back into Lua (table.sort's comparator) there is no
       yielding: the slice goes on to the next count. */
    if (lua_isyieldable(L)) lua_yield(L, 0);
}

/* __tapir_console_slice(thread, instructions): the thread yields (no values) every
   `instructions` instructions, until it ends; a new slice replaces the last. */
static int console_slice(lua_State *L) {
    lua_State *thread = lua_tothread(L, 1);
    luaL_argcheck(L, thread != NULL, 1, "coroutine expected");
    lua_Integer instructions = luaL_checkinteger(L, 2);
    luaL_argcheck(L, instructions > 0 && instructions <= 1000000000, 2, "out of range");
    sliced_thread = thread;
    lua_sethook(thread, slice_hook, LUA_MASKCOUNT, (int)instructions);
    return 0;
}

static int install(lua_State *L) {
    console_binding *given = clua_protected_userdata(L);
    console_binding *binding = lua_newuserdatauv(L, sizeof *binding, 0);
    *binding = *given;
    lua_pushcclosure(L, console_native, 1);
    lua_setglobal(L, "__tapir_console_native");
    lua_pushcfunction(L, console_slice);
    lua_setglobal(L, "__tapir_console_slice");
    return 0;
}

int clua_console_install(clua_host *host, clua_console_handler handler, void *context,
                         clua_result *result) {
    console_binding binding = { handler, context };
    return clua_protected(host, install, &binding, 0, result);
}

/* ---- Ctrl-C while a chunk runs (lua.c's lstop/laction) ---- */

static clua_host *volatile interrupted_host;
static struct sigaction previous_action;

void clua_raise_if_interrupted(lua_State *L, clua_host *host) {
    if (!host->interrupt_requested) return;
    host->interrupt_requested = 0;
    luaL_error(L, "interrupted!");
}

/* Runs at the next instruction after a SIGINT: puts the budget hook back (the console
   runs under it too, with no limit) and raises. */
static void interrupt_hook(lua_State *L, lua_Debug *event) {
    (void)event;
    clua_budget_rearm(L);
    clua_raise_if_interrupted(L, clua_host_of(L));
}

/* lua_sethook is the one Lua call that is safe in a signal handler (lua.c relies on it).
   The flag makes the interrupt survive the budget hook re-setting itself meanwhile. */
static void on_interrupt(int signal_number) {
    (void)signal_number;
    clua_host *host = interrupted_host;
    if (host == NULL) return;
    host->interrupt_requested = 1;
    const int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT;
    lua_sethook(host->L, interrupt_hook, mask, 1);
    /* and on a task the host is running (a chunk run as one) */
    int entered = host->entered_count;
    for (int i = 0; i < entered && i < CLUA_ENTERED_THREADS; i++)
        lua_sethook(host->entered[i], interrupt_hook, mask, 1);
}

void clua_console_arm_interrupt(clua_host *host) {
    host->interrupt_requested = 0;
    interrupted_host = host;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous_action);
    sigset_t interrupt;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &interrupt, NULL);
}

void clua_console_disarm_interrupt(void) {
    sigset_t interrupt;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    pthread_sigmask(SIG_BLOCK, &interrupt, NULL);
    sigaction(SIGINT, &previous_action, NULL);
    clua_host *host = interrupted_host;
    interrupted_host = NULL;
    if (host != NULL) host->interrupt_requested = 0;
}
