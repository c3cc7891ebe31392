// Standard libraries for a state, and the sandbox around them: text chunks only (load,
// loadfile, dofile, require), no C modules, io/debug and the unsafe part of os only for
// trusted scripts, and no finalizers (__gc) in untrusted ones.
#include "clua_internal.h"

/* load(chunk [, chunkname [, mode [, env]]]) with mode forced to "t". The argument count
   is kept: an explicit nil env differs from no env. */
static int text_only_load(lua_State *L) {
    if (lua_gettop(L) < 3) lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* loadfile([filename [, mode [, env]]]) with mode forced to "t". */
static int text_only_loadfile(lua_State *L) {
    if (lua_gettop(L) < 2) lua_settop(L, 2);
    lua_pushliteral(L, "t");
    lua_replace(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

static int text_only_dofile(lua_State *L) {
    const char *filename = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, filename, "t") != LUA_OK) return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* package.searchers[2], text chunks only. Upvalue 1: the package table. */
static int text_only_lua_searcher(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "searchpath");  /* 2 */
    lua_pushvalue(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "path");
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "'package.path' must be a string");
    lua_call(L, 2, 2);  /* 2: filename or nil, 3: message */
    if (lua_isnil(L, 2)) return 1;  /* the message: where it looked */
    const char *filename = lua_tostring(L, 2);
    if (luaL_loadfilex(L, filename, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                          name, filename, lua_tostring(L, -1));
    lua_pushvalue(L, 2);
    return 2;  /* loader, filename */
}

/* setmetatable refusing a metatable with __gc. Finalizers run with debug hooks off
   (lgc.c, GCTM), out of the instruction budget's reach: a looping finalizer would hang
   the host. Upvalue 1: the original setmetatable. */
static int setmetatable_without_finalizer(lua_State *L) {
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return luaL_argerror(L, 2, "__gc is not allowed here (finalizers run outside "
                                       "the instruction budget)");
        lua_pop(L, 1);
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void replace_with_closure(lua_State *L, int table, const char *name, lua_CFunction f) {
    table = lua_absindex(L, table);
    lua_getfield(L, table, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, table, name);
}

static void remove_field(lua_State *L, int table, const char *name) {
    table = lua_absindex(L, table);
    lua_pushnil(L);
    lua_setfield(L, table, name);
}

static void sandbox_base(lua_State *L, int trusted) {
    lua_pushglobaltable(L);
    int globals = lua_gettop(L);
    if (!trusted) replace_with_closure(L, globals, "setmetatable", setmetatable_without_finalizer);
    replace_with_closure(L, globals, "load", text_only_load);
    replace_with_closure(L, globals, "loadfile", text_only_loadfile);
    lua_pushcfunction(L, text_only_dofile);
    lua_setfield(L, globals, "dofile");
    lua_pop(L, 1);
}

static void sandbox_package(lua_State *L, const clua_options *options) {
    lua_getglobal(L, "package");
    int package = lua_gettop(L);
    lua_pushstring(L, options->package_path != NULL ? options->package_path : "");
    lua_setfield(L, package, "path");
    lua_pushliteral(L, "");
    lua_setfield(L, package, "cpath");
    if (!options->trusted) remove_field(L, package, "loadlib");

    /* searchers: the preload one, then ours; the C searchers are dropped. */
    lua_getfield(L, package, "searchers");
    lua_createtable(L, 2, 0);
    lua_rawgeti(L, -2, 1);
    lua_rawseti(L, -2, 1);
    lua_pushvalue(L, package);
    lua_pushcclosure(L, text_only_lua_searcher, 1);
    lua_rawseti(L, -2, 2);
    lua_setfield(L, package, "searchers");
    lua_pop(L, 2);  /* old searchers, package */
}

static void sandbox_os(lua_State *L) {
    static const char *const unsafe[] = {
        "execute", "exit", "getenv", "remove", "rename", "setlocale", "tmpname", NULL
    };
    lua_getglobal(L, "os");
    for (int i = 0; unsafe[i] != NULL; i++) remove_field(L, -1, unsafe[i]);
    lua_pop(L, 1);
}

void clua_open_libraries(lua_State *L, const clua_options *options) {
    static const luaL_Reg always[] = {
        {LUA_GNAME, luaopen_base},
        {LUA_LOADLIBNAME, luaopen_package},
        {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table},
        {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_OSLIBNAME, luaopen_os},
        {NULL, NULL}
    };
    static const luaL_Reg trusted_only[] = {
        {LUA_IOLIBNAME, luaopen_io},
        {LUA_DBLIBNAME, luaopen_debug},
        {NULL, NULL}
    };
    for (const luaL_Reg *library = always; library->func != NULL; library++) {
        luaL_requiref(L, library->name, library->func, 1);
        lua_pop(L, 1);
    }
    if (options->trusted) {
        for (const luaL_Reg *library = trusted_only; library->func != NULL; library++) {
            luaL_requiref(L, library->name, library->func, 1);
            lua_pop(L, 1);
        }
    } else {
        sandbox_os(L);
    }
    sandbox_base(L, options->trusted);
    sandbox_package(L, options);
}
