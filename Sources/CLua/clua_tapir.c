// The tapir table's C functions. Each checks its arguments the Lua way (luaL_check*, so
// errors read "bad argument #2 to 'on' (table expected, got string)"), hands plain values
// to Swift through the callbacks, and raises whatever Swift refuses.
#include <stdio.h>
#include <string.h>
#include "clua_internal.h"

#define HANDLE_METATABLE "tapir.handle"

/* A tapir.on handle: the Swift handler id, or -1 once off. */
typedef struct handler_handle {
    int64_t handler_id;
} handler_handle;

/* Reads a keys table ({dport = 53}) into keys; the strings stay valid while the table
   is on the stack. Returns the number of keys. */
static int read_keys(lua_State *L, int table, clua_key *keys) {
    int count = 0;
    lua_pushnil(L);  /* stack: ..., key */
    while (lua_next(L, table) != 0) {  /* stack: ..., key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, table, lua_pushfstring(L, "key names must be strings, got %s",
                                                    luaL_typename(L, -2)));
        if (count == CLUA_MAX_KEYS)
            luaL_argerror(L, table, lua_pushfstring(L, "more than %d keys", CLUA_MAX_KEYS));
        clua_key *key = &keys[count++];
        memset(key, 0, sizeof *key);
        key->name = lua_tolstring(L, -2, &key->name_length);
        switch (lua_type(L, -1)) {
        case LUA_TSTRING:
            key->is_string = 1;
            key->string_value = lua_tolstring(L, -1, &key->string_length);
            break;
        case LUA_TNUMBER: {
            int is_integer = 0;
            key->integer_value = lua_tointegerx(L, -1, &is_integer);
            if (!is_integer)
                luaL_argerror(L, table, lua_pushfstring(L,
                    "key '%s' has no integer representation", key->name));
            break;
        }
        default:
            luaL_argerror(L, table, lua_pushfstring(L,
                "key '%s' must be an integer or a string, got %s", key->name,
                luaL_typename(L, -1)));
        }
        lua_pop(L, 1);  /* stack: ..., key */
    }
    return count;
}

/* tapir.on(selector, [keys], fn) -> handle */
static int tapir_on(lua_State *L) {
    clua_host *host = clua_host_of(L);
    size_t selector_length = 0;
    const char *selector = luaL_checklstring(L, 1, &selector_length);
    int top = lua_gettop(L);
    /* tapir.on(selector, fn, extra): the extra argument is the one that is wrong. */
    if (top >= 3 && lua_type(L, 2) == LUA_TFUNCTION && !lua_isnil(L, 3))
        return luaL_argerror(L, 3, lua_pushfstring(L, "nothing goes after the function, got %s "
                             "(keys go before it: tapir.on(selector, {keys}, fn))", luaL_typename(L, 3)));
    if (top > 3)
        return luaL_argerror(L, 4, lua_pushfstring(L, "tapir.on takes (selector, [keys], function), "
                             "got %d arguments", top));
    int has_keys = top >= 3 && lua_type(L, 2) != LUA_TFUNCTION;
    int function_index = has_keys ? 3 : 2;
    if (has_keys) luaL_checktype(L, 2, LUA_TTABLE);
    luaL_checktype(L, function_index, LUA_TFUNCTION);

    clua_key keys[CLUA_MAX_KEYS];
    int key_count = has_keys ? read_keys(L, 2, keys) : 0;

    /* Allocate before Swift records the handler, so a memory error cannot lose one. */
    handler_handle *handle = lua_newuserdatauv(L, sizeof *handle, 0);
    handle->handler_id = -1;
    luaL_setmetatable(L, HANDLE_METATABLE);
    lua_pushvalue(L, function_index);
    int function_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    /* Where the function was written, for log lines about it. */
    lua_Debug info;
    lua_pushvalue(L, function_index);
    lua_getinfo(L, ">S", &info);
    char defined_at[LUA_IDSIZE + 24];
    snprintf(defined_at, sizeof defined_at, "%s:%d", info.short_src, info.linedefined);

    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int64_t id = host->callbacks.on_register(host->callbacks.context, selector, selector_length,
                                             keys, key_count, has_keys, function_ref,
                                             defined_at, error);
    if (id < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
        int argument = id == -2 ? 2 : 1;
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_argerror(L, argument, error);
    }
    handle->handler_id = id;
    return 1;
}

/* handle:off() -> true if this call removed the handler */
static int handle_off(lua_State *L) {
    clua_host *host = clua_host_of(L);
    handler_handle *handle = luaL_checkudata(L, 1, HANDLE_METATABLE);
    int removed = 0;
    if (handle->handler_id >= 0) {
        int function_ref = host->callbacks.on_off(host->callbacks.context, handle->handler_id);
        handle->handler_id = -1;
        if (function_ref != LUA_NOREF) {
            luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
            removed = 1;
        }
    }
    lua_pushboolean(L, removed);
    return 1;
}

static int handle_tostring(lua_State *L) {
    handler_handle *handle = luaL_checkudata(L, 1, HANDLE_METATABLE);
    if (handle->handler_id >= 0)
        lua_pushfstring(L, "tapir.handle(%I)", (LUAI_UACINT)handle->handler_id);
    else
        lua_pushliteral(L, "tapir.handle(off)");
    return 1;
}

/* tapir.log.<level>(...): arguments joined by tabs, each as tostring shows it. */
static int log_at(lua_State *L, clua_log_level level) {
    clua_host *host = clua_host_of(L);
    int count = lua_gettop(L);
    luaL_Buffer line;
    luaL_buffinit(L, &line);
    for (int i = 1; i <= count; i++) {
        if (i > 1) luaL_addchar(&line, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&line);
    }
    luaL_pushresult(&line);
    size_t length = 0;
    const char *message = lua_tolstring(L, -1, &length);
    host->callbacks.log(host->callbacks.context, level, message, length);
    return 0;
}

static int log_debug(lua_State *L) { return log_at(L, CLUA_LOG_DEBUG); }
static int log_info(lua_State *L) { return log_at(L, CLUA_LOG_INFO); }
static int log_warn(lua_State *L) { return log_at(L, CLUA_LOG_WARN); }
static int log_error(lua_State *L) { return log_at(L, CLUA_LOG_ERROR); }

void clua_open_tapir(lua_State *L) {
    static const luaL_Reg tapir_functions[] = {
        {"on", tapir_on},
        {NULL, NULL}
    };
    static const luaL_Reg log_functions[] = {
        {"debug", log_debug}, {"info", log_info}, {"warn", log_warn}, {"error", log_error},
        {NULL, NULL}
    };
    static const luaL_Reg handle_methods[] = {
        {"off", handle_off},
        {NULL, NULL}
    };

    luaL_newmetatable(L, HANDLE_METATABLE);
    luaL_newlib(L, handle_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, handle_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    luaL_newlib(L, tapir_functions);  /* stack: tapir */
    lua_pushinteger(L, 1);
    lua_setfield(L, -2, "api");
    luaL_newlib(L, log_functions);
    lua_setfield(L, -2, "log");
    lua_newtable(L);
    lua_setfield(L, -2, "state");

    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);  /* stack: tapir, loaded */
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "tapir");
    lua_pop(L, 1);
    lua_setglobal(L, "tapir");
    clua_preload_dns(L);
}
