// Standard libraries for a state, and the sandbox around them: text chunks only (load,
// loadfile, dofile, require), no C modules, io/debug and the unsafe part of os only for
// trusted scripts, and no finalizers (__gc) in untrusted ones. A pack's state (untrusted,
// options->pack) gets what its granted permissions allow, and everything else withheld
// raises a message naming the permission that would allow it.
#include <stdio.h>
#include <string.h>
#include "clua_internal.h"
#include "CLuaSources.h"

/* Calls the original loader (upvalue 1) with its mode argument, at `mode_index`, forced
   to "t". The argument count is kept: an explicit nil env differs from no env. */
static int call_in_text_mode(lua_State *L, int mode_index) {
    if (lua_gettop(L) < mode_index) lua_settop(L, mode_index);
    lua_pushliteral(L, "t");
    lua_replace(L, mode_index);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) */
static int text_only_load(lua_State *L) { return call_in_text_mode(L, 3); }

/* loadfile([filename [, mode [, env]]]) */
static int text_only_loadfile(lua_State *L) { return call_in_text_mode(L, 2); }

static int text_only_dofile(lua_State *L) {
    const char *filename = luaL_optstring(L, 1, NULL);
    lua_settop(L, 1);
    if (luaL_loadfilex(L, filename, "t") != LUA_OK) return lua_error(L);
    lua_call(L, 0, LUA_MULTRET);
    return lua_gettop(L) - 1;
}

/* The module `name` from the sources kept before root was dropped (CLuaSources.h), at
   the first of package.path's places that has one: pushes the loader and the file name
   and returns 2, or returns 0 (nothing pushed). `path` is package.path. */
static int kept_module(lua_State *L, const char *name, const char *path) {
    const char *slashed = luaL_gsub(L, name, ".", "/");
    int found = 0;
    while (!found && *path != '\0') {
        const char *end = strchr(path, ';');
        if (end == NULL) end = path + strlen(path);
        lua_pushlstring(L, path, (size_t)(end - path));
        const char *filename = luaL_gsub(L, lua_tostring(L, -1), "?", slashed);
        lua_remove(L, -2);
        size_t length = 0;
        const char *text = clua_sources_find(filename, &length);
        if (text != NULL) {
            lua_pushfstring(L, "@%s", filename);
            if (luaL_loadbufferx(L, text, length, lua_tostring(L, -1), "t") != LUA_OK)
                return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s",
                                  name, filename, lua_tostring(L, -1));
            lua_remove(L, -2);      /* the chunk name */
            lua_insert(L, -2);      /* stack: ..., loader, filename */
            found = 1;
        } else {
            lua_pop(L, 1);
        }
        path = *end == ';' ? end + 1 : end;
    }
    if (!found) {
        lua_pop(L, 1);  /* slashed */
        return 0;
    }
    lua_remove(L, -3);  /* slashed */
    return 2;
}

/* package.searchers[2], text chunks only. Upvalue 1: the package table. A module the
   user tapir runs as may not read is found among the sources read before the drop. */
static int text_only_lua_searcher(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "searchpath");  /* 2 */
    lua_pushvalue(L, 1);
    lua_getfield(L, lua_upvalueindex(1), "path");
    if (lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "'package.path' must be a string");
    const char *path = lua_tostring(L, -1);
    lua_pushvalue(L, -1);
    lua_insert(L, 2);  /* 2: package.path, kept for kept_module */
    lua_call(L, 2, 2);  /* 3: filename or nil, 4: message */
    if (lua_isnil(L, 3)) {
        if (kept_module(L, name, path) == 2) return 2;
        return 1;  /* the message: where it looked */
    }
    lua_remove(L, 2);  /* as before: 2: filename, 3: message */
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

/* A withheld function: raises its message (upvalue 1) at the caller's line. */
static int refuse(lua_State *L) {
    return luaL_error(L, "%s", lua_tostring(L, lua_upvalueindex(1)));
}

static void push_refusal(lua_State *L, const char *what, const char *permission) {
    if (permission != NULL)
        lua_pushfstring(L, "%s needs permission '%s': list it in pack.lua's permissions and "
                           "run with --allow %s", what, permission, permission);
    else
        lua_pushfstring(L, "%s is not available to packs", what);
    lua_pushcclosure(L, refuse, 1);
}

/* __index of a withheld library: upvalue 1 its name, 2 the permission. */
static int refuse_library_field(lua_State *L) {
    const char *library = lua_tostring(L, lua_upvalueindex(1));
    const char *permission = lua_tostring(L, lua_upvalueindex(2));
    const char *field = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?";
    return luaL_error(L, "%s.%s needs permission '%s': list it in pack.lua's permissions and "
                         "run with --allow %s", library, field, permission, permission);
}

/* The global `library` as an empty table whose every field raises. */
static void withhold_library(lua_State *L, const char *library, const char *permission) {
    lua_newtable(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, library);
    lua_pushstring(L, permission);
    lua_pushcclosure(L, refuse_library_field, 2);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setglobal(L, library);
}

static void replace_with_refusal(lua_State *L, int table, const char *name, const char *what,
                                 const char *permission) {
    table = lua_absindex(L, table);
    push_refusal(L, what, permission);
    lua_setfield(L, table, name);
}

static void sandbox_pack(lua_State *L, unsigned permissions) {
    static const struct { const char *name; unsigned permission; const char *permission_name; } os_functions[] = {
        {"execute", CLUA_PERMISSION_EXEC, "exec"},
        {"getenv", CLUA_PERMISSION_ENV, "env"},
        {"remove", CLUA_PERMISSION_IO, "io"},
        {"rename", CLUA_PERMISSION_IO, "io"},
        {"tmpname", CLUA_PERMISSION_IO, "io"},
        {"exit", 0, NULL},       /* a pack never ends the host */
        {"setlocale", 0, NULL},  /* the locale is the whole process's */
        {NULL, 0, NULL}
    };
    if (permissions & CLUA_PERMISSION_IO) {
        luaL_requiref(L, LUA_IOLIBNAME, luaopen_io, 1);
        lua_pop(L, 1);
    } else {
        withhold_library(L, "io", "io");
    }
    if (permissions & CLUA_PERMISSION_DEBUG) {
        luaL_requiref(L, LUA_DBLIBNAME, luaopen_debug, 1);
        replace_with_refusal(L, -1, "sethook", "debug.sethook (it would switch the instruction budget off)", NULL);
        lua_pop(L, 1);
    } else {
        withhold_library(L, "debug", "debug");
    }
    lua_getglobal(L, "os");
    for (int i = 0; os_functions[i].name != NULL; i++) {
        if (os_functions[i].permission != 0 && (permissions & os_functions[i].permission)) continue;
        char what[32];
        snprintf(what, sizeof what, "os.%s", os_functions[i].name);
        replace_with_refusal(L, -1, os_functions[i].name, what, os_functions[i].permission_name);
    }
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
    } else if (options->pack) {
        sandbox_pack(L, options->permissions);
    } else {
        sandbox_os(L);
    }
    sandbox_base(L, options->trusted);
    sandbox_package(L, options);
    if (!options->trusted && options->pack) {
        lua_getglobal(L, "package");
        replace_with_refusal(L, -1, "loadlib", "package.loadlib (C code runs outside the sandbox; "
                                               "no permission allows it)", NULL);
        lua_pop(L, 1);
    }
}
