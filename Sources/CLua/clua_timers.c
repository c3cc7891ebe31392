// Timers in Lua: tapir.after(ms, fn), tapir.every(ms, fn) and timer:cancel(). Arguments
// are checked here; the host schedules them (host->runtime.schedule, .cancel).
#include "clua_internal.h"

#define TIMER_METATABLE "tapir.timer"

typedef struct timer_handle {
    int64_t timer_id;  /* -1 once cancelled or fired (one-shot) */
} timer_handle;

static int schedule(lua_State *L, int repeating, const char *name) {
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    lua_Number milliseconds = luaL_checknumber(L, 1);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_argcheck(L, milliseconds >= 0, 1, "milliseconds must not be negative");
    luaL_argcheck(L, !repeating || milliseconds >= 1, 1, "a repeating timer needs at least 1 ms");
    (void)name;

    timer_handle *handle = lua_newuserdatauv(L, sizeof *handle, 0);
    handle->timer_id = -1;
    luaL_setmetatable(L, TIMER_METATABLE);
    lua_pushvalue(L, 2);
    int function_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int64_t id = runtime->schedule(runtime->context, (int64_t)milliseconds, repeating,
                                   function_ref, error);
    if (id < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_error(L, "%s", error);
    }
    handle->timer_id = id;
    return 1;
}

static int tapir_after(lua_State *L) { return schedule(L, 0, "after"); }
static int tapir_every(lua_State *L) { return schedule(L, 1, "every"); }

/* timer:cancel() -> true if this call stopped it */
static int timer_cancel(lua_State *L) {
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    timer_handle *handle = luaL_checkudata(L, 1, TIMER_METATABLE);
    int cancelled = 0;
    if (handle->timer_id >= 0) {
        int function_ref = runtime->cancel(runtime->context, handle->timer_id);
        handle->timer_id = -1;
        if (function_ref != LUA_NOREF) {
            luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
            cancelled = 1;
        }
    }
    lua_pushboolean(L, cancelled);
    return 1;
}

static int timer_tostring(lua_State *L) {
    timer_handle *handle = luaL_checkudata(L, 1, TIMER_METATABLE);
    if (handle->timer_id >= 0)
        lua_pushfstring(L, "tapir.timer(%I)", (LUAI_UACINT)handle->timer_id);
    else
        lua_pushliteral(L, "tapir.timer(done)");
    return 1;
}

void clua_install_timers(lua_State *L, int tapir) {
    static const luaL_Reg functions[] = { {"after", tapir_after}, {"every", tapir_every}, {NULL, NULL} };
    static const luaL_Reg timer_methods[] = { {"cancel", timer_cancel}, {NULL, NULL} };

    luaL_newmetatable(L, TIMER_METATABLE);
    luaL_newlib(L, timer_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, timer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    lua_pushvalue(L, tapir);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}
