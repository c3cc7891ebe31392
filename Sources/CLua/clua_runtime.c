// The host's runtime in the tapir table: installs the parts (timers in clua_timers.c,
// devices in clua_devices.c) and holds the rest: tapir.stats, tapir.on_stop, tapir.now,
// tapir.time.
// Arguments are checked here; Swift answers through host->runtime with plain values.
#include <time.h>
#include "clua_internal.h"

void clua_push_query(lua_State *L, clua_runtime_callbacks *runtime, int what, int64_t argument) {
    const uint8_t *data = NULL;
    size_t length = 0;
    if (runtime->query(runtime->context, what, argument, &data, &length) != 0)
        luaL_error(L, "no such device (it was closed or never opened)");
    clua_push_encoded(L, data, length);
}

static int tapir_stats(lua_State *L) {
    clua_push_query(L, clua_runtime_of(L), CLUA_QUERY_STATS, 0);
    return 1;
}

static int tapir_on_stop(lua_State *L) {
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    runtime->on_stop(runtime->context, luaL_ref(L, LUA_REGISTRYINDEX));
    return 0;
}

/* tapir.now() -> milliseconds (a float) on the host's clock */
static int tapir_now(lua_State *L) {
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    lua_pushnumber(L, (lua_Number)runtime->now(runtime->context) / 1e6);
    return 1;
}

/* tapir.time() -> wall-clock seconds since 1970 (a float, sub-microsecond resolution):
   the real time in every host, replay included; tapir.now is the one to measure with. */
static int tapir_time(lua_State *L) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    lua_pushnumber(L, (lua_Number)now.tv_sec + (lua_Number)now.tv_nsec / 1e9);
    return 1;
}

static int install(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"stats", tapir_stats}, {"on_stop", tapir_on_stop}, {"now", tapir_now}, {"time", tapir_time},
        {NULL, NULL}
    };
    lua_getglobal(L, "tapir");  /* stack: tapir */
    int tapir = lua_gettop(L);
    clua_install_timers(L, tapir);
    clua_install_devices(L, tapir);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
    return 0;
}

int clua_install_runtime(clua_host *host, const clua_runtime_callbacks *callbacks,
                         clua_result *result) {
    host->runtime = *callbacks;
    return clua_protected(host, install, NULL, 0, result);
}
