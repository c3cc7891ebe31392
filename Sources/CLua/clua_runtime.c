// The host's runtime functions in the tapir table: timers, devices, stats, on_stop, now.
// Arguments are checked here; Swift answers through host->runtime with plain values.
#include <string.h>
#include "clua_internal.h"

#define TIMER_METATABLE "tapir.timer"
#define DEVICE_METATABLE "tapir.device"

typedef struct timer_handle {
    int64_t timer_id;  /* -1 once cancelled or fired (one-shot) */
} timer_handle;

typedef struct device_handle {
    int64_t device_id;
} device_handle;

/* Its address is the key that marks a device's metatable. */
static const char device_marker = 0;

static clua_runtime_callbacks *runtime_of(lua_State *L) {
    clua_runtime_callbacks *runtime = &clua_host_of(L)->runtime;
    if (runtime->schedule == NULL) luaL_error(L, "the tapir runtime is not available here");
    return runtime;
}

static void push_query(lua_State *L, clua_runtime_callbacks *runtime, int what, int64_t argument) {
    const uint8_t *data = NULL;
    size_t length = 0;
    if (runtime->query(runtime->context, what, argument, &data, &length) != 0)
        luaL_error(L, "no such device (it was closed or never opened)");
    clua_push_encoded(L, data, length);
}

/* ---- timers ---- */

static int schedule(lua_State *L, int repeating, const char *name) {
    clua_runtime_callbacks *runtime = runtime_of(L);
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
    clua_runtime_callbacks *runtime = runtime_of(L);
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

/* ---- devices ---- */

static device_handle *check_device(lua_State *L, int index) {
    clua_host *host = clua_host_of(L);
    device_handle *handle = lua_touserdata(L, index);
    /* The address is compared before the block is read: it may be any userdata. */
    for (int id = 0; handle != NULL && id < host->device_blocks_used; id++)
        if (host->device_blocks[id] == handle) return handle;
    if (handle != NULL && lua_getmetatable(L, index)) {
        int is_device = lua_rawgetp(L, -1, &device_marker) == LUA_TBOOLEAN;
        lua_pop(L, 2);
        if (is_device) return handle;
    }
    luaL_typeerror(L, index, DEVICE_METATABLE);
    return NULL;
}

void clua_check_device(lua_State *L, int index) {
    (void)check_device(L, index);
}

static int write_bytes(lua_State *L, const device_handle *handle, const uint8_t *bytes, size_t length) {
    clua_runtime_callbacks *runtime = runtime_of(L);
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int written = runtime->write(runtime->context, handle->device_id, bytes, length, error);
    if (written < 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_error(L, "%s", error);
    }
    lua_pushboolean(L, written);
    return 1;
}

int clua_device_write(lua_State *L, int index, const uint8_t *bytes, size_t length) {
    return write_bytes(L, check_device(L, index), bytes, length);
}

/* dev:write(bytes | packet) -> true if written, false if dropped (counted) */
static int device_write(lua_State *L) {
    device_handle *handle = check_device(L, 1);
    size_t length = 0;
    const uint8_t *bytes = NULL;
    if (!clua_to_bytes(L, 2, &bytes, &length)) luaL_typeerror(L, 2, "string or packet");
    return write_bytes(L, handle, bytes, length);
}

static int device_tostring(lua_State *L) {
    check_device(L, 1);
    lua_getiuservalue(L, 1, 1);
    lua_getfield(L, -1, "name");
    lua_pushfstring(L, "tapir.device(%s)", lua_tostring(L, -1));
    return 1;
}

/* A device's metatable: its own, with __index the table of its fields (name, mode, mac,
   mtu, id) and write, so `dev.name` and `dev:write` are table lookups in the VM rather
   than a C call each. The marker key says "a device" to check_device. */
static void push_device_metatable(lua_State *L, int fields_index) {
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, fields_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, device_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, DEVICE_METATABLE);
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "device");
    lua_setfield(L, -2, "__metatable");  /* scripts cannot change or read it */
    lua_pushboolean(L, 1);
    lua_rawsetp(L, -2, &device_marker);
}

int clua_device_is_cached(const clua_host *host, int64_t id) {
    return id >= 0 && id < CLUA_FAST_DEVICES && host->device_refs[id] != 0;
}

void clua_push_device(lua_State *L, const void *device_id) {
    int64_t id = (int64_t)(intptr_t)device_id;
    clua_host *host = clua_host_of(L);
    if (clua_device_is_cached(host, id)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, host->device_refs[id]);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, host->device_cache_ref);  /* stack: cache */
    if (lua_rawgeti(L, -1, id) == LUA_TUSERDATA) {          /* stack: cache, device */
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);                                          /* stack: cache */
    device_handle *handle = lua_newuserdatauv(L, sizeof *handle, 1);
    handle->device_id = id;
    push_query(L, runtime_of(L), CLUA_QUERY_DEVICE, id);    /* stack: cache, device, fields */
    lua_pushcfunction(L, device_write);
    lua_setfield(L, -2, "write");
    push_device_metatable(L, lua_gettop(L));                /* stack: cache, device, fields, mt */
    lua_setmetatable(L, -3);
    lua_setiuservalue(L, -2, 1);                            /* stack: cache, device */
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, id);
    lua_remove(L, -2);                                      /* stack: device */
    if (id >= 0 && id < CLUA_FAST_DEVICES) {
        lua_pushvalue(L, -1);
        host->device_refs[id] = luaL_ref(L, LUA_REGISTRYINDEX);
        host->device_blocks[id] = handle;
        if (id >= host->device_blocks_used) host->device_blocks_used = (int)id + 1;
    }
}

/* tapir.open{name = "tap1", mode = "tap", ...} -> device */
static int tapir_open(lua_State *L) {
    clua_runtime_callbacks *runtime = runtime_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    clua_key options[CLUA_MAX_KEYS];
    int count = 0;
    lua_pushnil(L);  /* stack: options, key */
    while (lua_next(L, 1) != 0) {  /* stack: options, key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, 1, "option names must be strings");
        if (count == CLUA_MAX_KEYS) luaL_argerror(L, 1, "too many options");
        clua_key *option = &options[count++];
        memset(option, 0, sizeof *option);
        option->name = lua_tolstring(L, -2, &option->name_length);
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            option->is_string = 1;
            option->string_value = lua_tolstring(L, -1, &option->string_length);
            break;
        case LUA_TBOOLEAN:
            option->integer_value = lua_toboolean(L, -1);
            break;
        case LUA_TNUMBER:
            if (!lua_isinteger(L, -1))
                luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be an integer", option->name));
            option->integer_value = lua_tointeger(L, -1);
            break;
        default:
            luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be a string, integer or boolean, got %s",
                                                option->name, luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
    }
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int64_t id = runtime->open(runtime->context, options, count, error);
    if (id < 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_error(L, "%s", error);
    }
    clua_push_device(L, (const void *)(intptr_t)id);
    return 1;
}

/* tapir.devices() -> array of devices */
static int tapir_devices(lua_State *L) {
    clua_runtime_callbacks *runtime = runtime_of(L);
    push_query(L, runtime, CLUA_QUERY_DEVICES, 0);  /* stack: ids */
    lua_Integer count = luaL_len(L, -1);
    lua_createtable(L, (int)count, 0);              /* stack: ids, devices */
    for (lua_Integer i = 1; i <= count; i++) {
        lua_rawgeti(L, -2, i);
        int64_t id = lua_tointeger(L, -1);
        lua_pop(L, 1);
        clua_push_device(L, (const void *)(intptr_t)id);
        lua_rawseti(L, -2, i);
    }
    return 1;
}

/* ---- the rest ---- */

static int tapir_stats(lua_State *L) {
    push_query(L, runtime_of(L), CLUA_QUERY_STATS, 0);
    return 1;
}

static int tapir_on_stop(lua_State *L) {
    clua_runtime_callbacks *runtime = runtime_of(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    runtime->on_stop(runtime->context, luaL_ref(L, LUA_REGISTRYINDEX));
    return 0;
}

/* tapir.now() -> milliseconds (a float) on the host's clock */
static int tapir_now(lua_State *L) {
    clua_runtime_callbacks *runtime = runtime_of(L);
    lua_pushnumber(L, (lua_Number)runtime->now(runtime->context) / 1e6);
    return 1;
}

static int install(lua_State *L) {
    static const luaL_Reg functions[] = {
        {"after", tapir_after}, {"every", tapir_every}, {"open", tapir_open},
        {"devices", tapir_devices}, {"stats", tapir_stats}, {"on_stop", tapir_on_stop},
        {"now", tapir_now}, {NULL, NULL}
    };
    static const luaL_Reg timer_methods[] = { {"cancel", timer_cancel}, {NULL, NULL} };

    luaL_newmetatable(L, TIMER_METATABLE);
    luaL_newlib(L, timer_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, timer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    /* the cache keeps devices alive: one userdata per device per state; kept in an
       integer registry slot, so finding it per packet costs no string lookup */
    lua_newtable(L);
    clua_host_of(L)->device_cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_getglobal(L, "tapir");
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
    return 0;
}

int clua_install_runtime(clua_host *host, const clua_runtime_callbacks *callbacks,
                         clua_result *result) {
    host->runtime = *callbacks;
    return clua_protected(host, install, NULL, 0, result);
}
