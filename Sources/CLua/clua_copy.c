// Copying tapir.state from one state into a fresh one (on reload). Reading the source
// only pushes values already there (no allocation, no metamethods: raw access), so it
// cannot raise; everything that allocates happens in the destination, protected.
#include <stdio.h>
#include <string.h>
#include "clua_internal.h"

enum { MAXIMUM_DEPTH = 100 };

typedef struct copy_job {
    lua_State *from;
    int from_state;     /* index of the source tapir.state in `from` */
    clua_host *to;
    int seen;           /* index, in `to`, of a table: source table identity -> its copy */
} copy_job;

static void warn_skipped(copy_job *job, int key_index, int value_index) {
    lua_State *F = job->from;
    char key[96];
    switch (lua_type(F, key_index)) {
    case LUA_TSTRING: snprintf(key, sizeof key, "\"%.80s\"", lua_tostring(F, key_index)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(F, key_index))
            snprintf(key, sizeof key, "%lld", (long long)lua_tointeger(F, key_index));
        else
            snprintf(key, sizeof key, "%g", (double)lua_tonumber(F, key_index));
        break;
    default: snprintf(key, sizeof key, "(a %s)", lua_typename(F, lua_type(F, key_index))); break;
    }
    char message[192];
    int length = snprintf(message, sizeof message,
                          "tapir.state: skipped %s at key %s (only booleans, numbers, strings "
                          "and tables are kept across a reload)",
                          lua_typename(F, lua_type(F, value_index)), key);
    if (length < 0) return;
    if ((size_t)length >= sizeof message) length = (int)sizeof message - 1;
    clua_host *to = job->to;
    to->callbacks.log(to->callbacks.context, CLUA_LOG_WARN, message, (size_t)length);
}

static int is_plain(int type) {
    return type == LUA_TBOOLEAN || type == LUA_TNUMBER || type == LUA_TSTRING
        || type == LUA_TTABLE;
}

static void copy_table(copy_job *job, int source, int depth);

/* Pushes onto `to` a copy of the plain value at index in `from`. */
static void copy_value(copy_job *job, int index, int depth) {
    lua_State *F = job->from, *T = job->to->L;
    switch (lua_type(F, index)) {
    case LUA_TBOOLEAN: lua_pushboolean(T, lua_toboolean(F, index)); break;
    case LUA_TNUMBER:
        if (lua_isinteger(F, index)) lua_pushinteger(T, lua_tointeger(F, index));
        else lua_pushnumber(T, lua_tonumber(F, index));
        break;
    case LUA_TSTRING: {
        size_t length = 0;
        const char *bytes = lua_tolstring(F, index, &length);  /* a string: no conversion */
        lua_pushlstring(T, bytes, length);
        break;
    }
    case LUA_TTABLE: copy_table(job, index, depth + 1); break;
    default: lua_pushnil(T); break;  /* not reached: callers check is_plain */
    }
}

static void copy_table(copy_job *job, int source, int depth) {
    lua_State *F = job->from, *T = job->to->L;
    if (depth > MAXIMUM_DEPTH)
        luaL_error(T, "cannot copy tapir.state: tables nested deeper than %d", MAXIMUM_DEPTH);

    /* A table met before (shared or a cycle) gets the same copy. */
    lua_pushlightuserdata(T, (void *)lua_topointer(F, source));
    if (lua_rawget(T, job->seen) != LUA_TNIL) return;
    lua_pop(T, 1);

    lua_newtable(T);
    int copy = lua_gettop(T);
    lua_pushlightuserdata(T, (void *)lua_topointer(F, source));
    lua_pushvalue(T, copy);
    lua_rawset(T, job->seen);

    luaL_checkstack(T, 4, "copying tapir.state");
    if (!lua_checkstack(F, 3)) luaL_error(T, "cannot copy tapir.state: source stack full");
    lua_pushnil(F);  /* F stack: ..., key */
    while (lua_next(F, source) != 0) {  /* F stack: ..., key, value */
        int key = lua_gettop(F) - 1, value = lua_gettop(F);
        if (is_plain(lua_type(F, key)) && is_plain(lua_type(F, value))) {
            copy_value(job, key, depth);    /* T stack: ..., copy, key' */
            copy_value(job, value, depth);  /* T stack: ..., copy, key', value' */
            lua_rawset(T, copy);
        } else {
            warn_skipped(job, key, value);
        }
        lua_pop(F, 1);  /* F stack: ..., key */
    }
}

static int copy_into(lua_State *T) {
    copy_job *job = clua_protected_userdata(T);
    lua_newtable(T);
    job->seen = lua_gettop(T);
    copy_table(job, job->from_state, 0);  /* T stack: ..., seen, copy */

    lua_rawgeti(T, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushliteral(T, "tapir");
    if (lua_rawget(T, -2) != LUA_TTABLE)
        return luaL_error(T, "cannot copy tapir.state: the new state has no tapir table");
    lua_pushliteral(T, "state");
    lua_pushvalue(T, -4);
    lua_rawset(T, -3);
    return 0;
}

/* Pushes the source tapir.state (or nil), by raw access. */
static int find_state(lua_State *F) {
    lua_rawgeti(F, LUA_REGISTRYINDEX, LUA_RIDX_GLOBALS);
    lua_pushliteral(F, "tapir");
    if (lua_rawget(F, -2) != LUA_TTABLE) {
        lua_pushnil(F);
        return 1;
    }
    lua_pushliteral(F, "state");
    lua_rawget(F, -2);
    return 1;
}

int clua_copy_state(clua_host *from, clua_host *to, clua_result *result) {
    clua_result found;
    int status = clua_protected(from, find_state, NULL, 1, &found);
    if (status != LUA_OK) {
        /* Report the source's failure through `to`'s result, whose stack holds nothing. */
        clua_result_release(from, &found);
        memset(result, 0, sizeof *result);
        result->status = status;
        result->message = "cannot read tapir.state of the old state";
        result->message_length = strlen(result->message);
        return status;
    }
    int source = lua_gettop(from->L);
    if (lua_type(from->L, source) != LUA_TTABLE) {
        clua_result_release(from, &found);
        memset(result, 0, sizeof *result);
        return LUA_OK;  /* nothing to keep */
    }
    copy_job job = { .from = from->L, .from_state = source, .to = to };
    status = clua_protected(to, copy_into, &job, 0, result);
    clua_result_release(from, &found);  /* also drops what an interrupted walk left */
    return status;
}
