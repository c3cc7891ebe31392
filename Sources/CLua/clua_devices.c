// Devices in Lua: one userdata per device per state (dev.name, dev.mtu, dev:write),
// tapir.open and tapir.devices. Arguments are checked here; the host writes and opens
// (host->runtime.write, .open) and describes its devices (.query).
#include <string.h>
#include "clua_internal.h"

#define DEVICE_METATABLE "tapir.device"

typedef struct device_handle {
    int64_t device_id;
} device_handle;

/* Its address is the key that marks a device's metatable. */
static const char device_marker = 0;

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
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
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
    clua_push_query(L, clua_runtime_of(L), CLUA_QUERY_DEVICE, id);    /* stack: cache, device, fields */
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

void clua_device_set_mtu(clua_host *host, int64_t device_id, int64_t mtu) {
    lua_State *L = host->L;
    int top = lua_gettop(L);
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, host->device_cache_ref) == LUA_TTABLE
        && lua_rawgeti(L, -1, device_id) == LUA_TUSERDATA) {
        lua_getiuservalue(L, -1, 1);  /* the fields table */
        lua_pushliteral(L, "mtu");    /* an interned short string: no allocation */
        if (lua_rawget(L, -2) == LUA_TNUMBER) {
            lua_pop(L, 1);
            lua_pushliteral(L, "mtu");
            lua_pushinteger(L, mtu);
            lua_rawset(L, -3);        /* an existing key: the table does not grow */
        }
    }
    lua_settop(L, top);
}

int clua_read_options(lua_State *L, int table, clua_key *options) {
    luaL_checktype(L, table, LUA_TTABLE);
    int count = 0;
    lua_pushnil(L);  /* stack: ..., key */
    while (lua_next(L, table) != 0) {  /* stack: ..., key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, table, "option names must be strings");
        if (count == CLUA_MAX_KEYS) luaL_argerror(L, table, "too many options");
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
                luaL_argerror(L, table, lua_pushfstring(L, "option '%s' must be an integer", option->name));
            option->integer_value = lua_tointeger(L, -1);
            break;
        default:
            luaL_argerror(L, table, lua_pushfstring(L, "option '%s' must be a string, integer or boolean, got %s",
                                                    option->name, luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
    }
    return count;
}

/* tapir.open{name = "tap1", mode = "tap", ...} -> device */
static int tapir_open(lua_State *L) {
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    clua_key options[CLUA_MAX_KEYS];
    int count = clua_read_options(L, 1, options);
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
    clua_runtime_callbacks *runtime = clua_runtime_of(L);
    clua_push_query(L, runtime, CLUA_QUERY_DEVICES, 0);  /* stack: ids */
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

void clua_install_devices(lua_State *L, int tapir) {
    static const luaL_Reg functions[] = { {"open", tapir_open}, {"devices", tapir_devices}, {NULL, NULL} };

    /* the cache keeps devices alive: one userdata per device per state; kept in an
       integer registry slot, so finding it per packet costs no string lookup */
    lua_newtable(L);
    clua_host_of(L)->device_cache_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_pushvalue(L, tapir);
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 1);
}
