// TCP for scripts (CLuaTCP.h): tapir.tcp.listen and tapir.tcp.connect, the listener and
// connection objects. A call that must wait (receive, send with a full buffer, connect)
// yields its task with a continuation that tries again; a peer's behaviour comes back as
// nil, err, a script's mistake as an error.
#include <string.h>
#include "clua_internal.h"

#define LISTENER_METATABLE "tapir.tcp.listener"
#define CONNECTION_METATABLE "tapir.tcp.connection"

typedef struct listener_handle {
    int64_t id;             /* -1 once closed */
} listener_handle;

typedef struct connection_handle {
    int64_t id;             /* -1 once closed */
    int64_t timeout_ms;     /* -1: none */
} connection_handle;

static clua_tcp_callbacks *tcp_of(lua_State *L) {
    clua_host *host = clua_host_of(L);
    if (host->tcp.listen == NULL) luaL_error(L, "host error: TCP is not installed");
    return &host->tcp;
}

static void raise_message(lua_State *L, char *error) {
    error[CLUA_ERROR_CAPACITY - 1] = '\0';
    luaL_error(L, "%s", error);
}

/* ---- listeners ---- */

/* tapir.tcp.listen({port = 80, [ip =], [ipv6 =], [backlog =], [mac =]}, function(conn) ... end) */
static int tcp_listen(lua_State *L) {
    clua_tcp_callbacks *tcp = tcp_of(L);
    clua_key options[CLUA_MAX_KEYS];
    int count = clua_read_options(L, 1, options);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    listener_handle *handle = lua_newuserdatauv(L, sizeof *handle, 0);
    handle->id = -1;
    luaL_setmetatable(L, LISTENER_METATABLE);
    lua_pushvalue(L, 2);
    int function_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int64_t id = tcp->listen(tcp->context, options, count, function_ref, error);
    if (id < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
        raise_message(L, error);
    }
    handle->id = id;
    return 1;
}

static int listener_close(lua_State *L) {
    clua_tcp_callbacks *tcp = tcp_of(L);
    listener_handle *handle = luaL_checkudata(L, 1, LISTENER_METATABLE);
    int closed = 0;
    if (handle->id >= 0) {
        int function_ref = tcp->close_listener(tcp->context, handle->id);
        handle->id = -1;
        if (function_ref != LUA_NOREF) {
            luaL_unref(L, LUA_REGISTRYINDEX, function_ref);
            closed = 1;
        }
    }
    lua_pushboolean(L, closed);
    return 1;
}

static int listener_tostring(lua_State *L) {
    listener_handle *handle = luaL_checkudata(L, 1, LISTENER_METATABLE);
    if (handle->id >= 0) lua_pushfstring(L, "tapir.tcp.listener(%I)", (LUAI_UACINT)handle->id);
    else lua_pushliteral(L, "tapir.tcp.listener(closed)");
    return 1;
}

/* ---- connections ---- */

void clua_tcp_push_connection(lua_State *L, const void *connection) {
    connection_handle *handle = lua_newuserdatauv(L, sizeof *handle, 1);
    handle->id = (int64_t)(intptr_t)connection;
    handle->timeout_ms = -1;
    luaL_setmetatable(L, CONNECTION_METATABLE);
}

static connection_handle *check_connection(lua_State *L) {
    return luaL_checkudata(L, 1, CONNECTION_METATABLE);
}

/* Pushes nil, reason (and, when given, the partial data) and returns their count. */
static int fail(lua_State *L, const char *reason, const uint8_t *partial, size_t length) {
    lua_pushnil(L);
    lua_pushstring(L, reason);
    if (partial == NULL) return 2;
    lua_pushlstring(L, (const char *)partial, length);
    return 3;
}

static int closed_connection(lua_State *L) { return fail(L, "closed", NULL, 0); }

/* receive: argument 2 is the pattern, already checked; the mode and count are passed on. */
static int receive_attempt(lua_State *L, int mode, int64_t count);

static int receive_continue(lua_State *L, int status, lua_KContext context) {
    (void)status;
    int timed_out = lua_toboolean(L, -1);
    lua_pop(L, 1);
    int mode = (int)(context & 0xff);
    int64_t count = (int64_t)(context >> 8);
    if (timed_out) {
        connection_handle *handle = check_connection(L);
        clua_tcp_callbacks *tcp = tcp_of(L);
        const uint8_t *bytes = NULL;
        size_t length = 0;
        char error[CLUA_ERROR_CAPACITY];
        error[0] = '\0';
        /* One last look: the data may have come with the deadline. */
        int outcome = handle->id < 0 ? CLUA_TCP_FAILED
            : tcp->receive(tcp->context, handle->id, mode, count, &bytes, &length, error);
        if (outcome == CLUA_TCP_DONE) {
            lua_pushlstring(L, (const char *)bytes, length);
            return 1;
        }
        return fail(L, "timeout", NULL, 0);
    }
    return receive_attempt(L, mode, count);
}

static int receive_attempt(lua_State *L, int mode, int64_t count) {
    connection_handle *handle = check_connection(L);
    if (handle->id < 0) return closed_connection(L);
    clua_tcp_callbacks *tcp = tcp_of(L);
    const uint8_t *bytes = NULL;
    size_t length = 0;
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int outcome = tcp->receive(tcp->context, handle->id, mode, count, &bytes, &length, error);
    switch (outcome) {
    case CLUA_TCP_DONE:
        lua_pushlstring(L, (const char *)bytes, length);
        return 1;
    case CLUA_TCP_WAIT: {
        lua_KContext context = (lua_KContext)(((int64_t)count << 8) | (mode & 0xff));
        return clua_task_wait(L, "conn:receive", CLUA_WAIT_READABLE, handle->id, handle->timeout_ms,
                              context, receive_continue);
    }
    case CLUA_TCP_REFUSED:
        raise_message(L, error);
        return 0;
    default:
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return fail(L, error, bytes, length);
    }
}

/* conn:receive([pattern]): "*l" (default), "*a", or a byte count. */
static int connection_receive(lua_State *L) {
    check_connection(L);
    int mode = CLUA_RECEIVE_LINE;
    int64_t count = 0;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, 2);
        luaL_argcheck(L, n >= 0 && n <= (1 << 30), 2, "a byte count from 0 to 2^30 expected");
        mode = CLUA_RECEIVE_COUNT;
        count = n;
    } else if (!lua_isnoneornil(L, 2)) {
        const char *pattern = luaL_checkstring(L, 2);
        if (strcmp(pattern, "*l") == 0 || strcmp(pattern, "l") == 0) mode = CLUA_RECEIVE_LINE;
        else if (strcmp(pattern, "*a") == 0 || strcmp(pattern, "a") == 0) mode = CLUA_RECEIVE_ALL;
        else return luaL_argerror(L, 2, "\"*l\", \"*a\" or a byte count expected");
    }
    lua_settop(L, 1);
    return receive_attempt(L, mode, count);
}

/* conn:receiveany(max): 1 to max bytes, as soon as any have come. */
static int connection_receiveany(lua_State *L) {
    check_connection(L);
    lua_Integer max = luaL_checkinteger(L, 2);
    luaL_argcheck(L, max > 0 && max <= (1 << 30), 2, "a byte count from 1 to 2^30 expected");
    lua_settop(L, 1);
    return receive_attempt(L, CLUA_RECEIVE_ANY, max);
}

/* send: the data is argument 2; the bytes sent so far are the continuation context. */
static int send_attempt(lua_State *L, size_t sent);

static int send_continue(lua_State *L, int status, lua_KContext context) {
    (void)status;
    int timed_out = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (timed_out) {
        lua_pushnil(L);
        lua_pushliteral(L, "timeout");
        lua_pushinteger(L, (lua_Integer)context);
        return 3;
    }
    return send_attempt(L, (size_t)context);
}

static int send_attempt(lua_State *L, size_t sent) {
    connection_handle *handle = check_connection(L);
    size_t length = 0;
    const char *data = lua_tolstring(L, 2, &length);
    if (handle->id < 0) return closed_connection(L);
    clua_tcp_callbacks *tcp = tcp_of(L);
    char error[CLUA_ERROR_CAPACITY];
    while (sent < length) {
        error[0] = '\0';
        int64_t taken = tcp->send(tcp->context, handle->id, (const uint8_t *)data + sent, length - sent, error);
        if (taken < 0) {
            error[CLUA_ERROR_CAPACITY - 1] = '\0';
            lua_pushnil(L);
            lua_pushstring(L, error);
            lua_pushinteger(L, (lua_Integer)sent);
            return 3;
        }
        if (taken == 0)
            return clua_task_wait(L, "conn:send", CLUA_WAIT_WRITABLE, handle->id, handle->timeout_ms,
                                  (lua_KContext)sent, send_continue);
        sent += (size_t)taken;
    }
    lua_pushinteger(L, (lua_Integer)length);
    return 1;
}

/* conn:send(data) -> bytes sent, or nil, err, bytes sent before the error. */
static int connection_send(lua_State *L) {
    check_connection(L);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    return send_attempt(L, 0);
}

static int close_with(lua_State *L, int how) {
    connection_handle *handle = check_connection(L);
    if (handle->id < 0) return closed_connection(L);
    clua_tcp_callbacks *tcp = tcp_of(L);
    tcp->close(tcp->context, handle->id, how);
    if (how != 1) handle->id = -1;
    lua_pushinteger(L, 1);
    return 1;
}

/* conn:close() -> 1, or nil, "closed" */
static int connection_close(lua_State *L) { return close_with(L, 0); }
/* conn:shutdown() -> 1: no more sending (a FIN); receiving goes on. */
static int connection_shutdown(lua_State *L) { return close_with(L, 1); }
/* conn:abort() -> 1: a reset. */
static int connection_abort(lua_State *L) { return close_with(L, 2); }

/* conn:settimeout(ms): how long receive, send and connect wait (nil or negative: forever). */
static int connection_settimeout(lua_State *L) {
    connection_handle *handle = check_connection(L);
    if (lua_isnoneornil(L, 2)) {
        handle->timeout_ms = -1;
    } else {
        lua_Number ms = luaL_checknumber(L, 2);
        handle->timeout_ms = ms < 0 ? -1 : (int64_t)ms;
    }
    lua_pushinteger(L, 1);
    return 1;
}

/* conn:setoption("nodelay", on) */
static int connection_setoption(lua_State *L) {
    connection_handle *handle = check_connection(L);
    const char *name = luaL_checkstring(L, 2);
    if (strcmp(name, "nodelay") != 0 && strcmp(name, "tcp-nodelay") != 0)
        return luaL_argerror(L, 2, "only \"nodelay\" is an option");
    luaL_checkany(L, 3);
    if (handle->id < 0) return closed_connection(L);
    clua_tcp_callbacks *tcp = tcp_of(L);
    tcp->set_nagle(tcp->context, handle->id, !lua_toboolean(L, 3));
    lua_pushinteger(L, 1);
    return 1;
}

/* conn.peer, conn["local"], conn.state, conn.counters, and the methods. */
static int connection_index(lua_State *L) {
    connection_handle *handle = check_connection(L);
    const char *key = luaL_checkstring(L, 2);
    luaL_getmetatable(L, CONNECTION_METATABLE);
    lua_getfield(L, -1, "methods");
    if (lua_getfield(L, -1, key) != LUA_TNIL) return 1;
    lua_pop(L, 3);
    if (strcmp(key, "peer") != 0 && strcmp(key, "local") != 0 && strcmp(key, "state") != 0
        && strcmp(key, "counters") != 0)
        return luaL_error(L, "connection has no field '%s'", key);
    /* Endpoints are kept once read (the connection's uservalue) so they stay after close. */
    lua_getiuservalue(L, 1, 1);
    int cached = lua_type(L, -1) == LUA_TTABLE;
    if (cached && strcmp(key, "state") != 0 && strcmp(key, "counters") != 0) {
        lua_getfield(L, -1, key);
        return 1;
    }
    lua_pop(L, 1);
    clua_tcp_callbacks *tcp = tcp_of(L);
    const uint8_t *data = NULL;
    size_t length = 0;
    if (handle->id < 0 || tcp->describe(tcp->context, handle->id, &data, &length) != 0) {
        if (cached) {
            lua_getiuservalue(L, 1, 1);
            lua_getfield(L, -1, key);
            if (!lua_isnil(L, -1)) return 1;
        }
        if (strcmp(key, "state") == 0) {
            lua_pushliteral(L, "CLOSED");
            return 1;
        }
        lua_pushnil(L);
        return 1;
    }
    clua_push_encoded(L, data, length);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, 1);
    lua_getfield(L, -1, key);
    return 1;
}

static int connection_tostring(lua_State *L) {
    connection_handle *handle = check_connection(L);
    if (handle->id >= 0) lua_pushfstring(L, "tapir.tcp.connection(%I)", (LUAI_UACINT)handle->id);
    else lua_pushliteral(L, "tapir.tcp.connection(closed)");
    return 1;
}

/* ---- connect ---- */

static int connect_continue(lua_State *L, int status, lua_KContext context);

static int connect_attempt(lua_State *L, int connection_index) {
    connection_handle *handle = luaL_checkudata(L, connection_index, CONNECTION_METATABLE);
    clua_tcp_callbacks *tcp = tcp_of(L);
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int outcome = tcp->connected(tcp->context, handle->id, error);
    if (outcome == CLUA_TCP_DONE) {
        handle->timeout_ms = -1;  /* the connect timeout was the handle's until now */
        lua_pushvalue(L, connection_index);
        return 1;
    }
    if (outcome == CLUA_TCP_WAIT)
        return clua_task_wait(L, "tapir.tcp.connect", CLUA_WAIT_CONNECTED, handle->id, handle->timeout_ms,
                              connection_index, connect_continue);
    error[CLUA_ERROR_CAPACITY - 1] = '\0';
    tcp->close(tcp->context, handle->id, 2);
    handle->id = -1;
    return fail(L, error, NULL, 0);
}

static int connect_continue(lua_State *L, int status, lua_KContext context) {
    (void)status;
    int timed_out = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (timed_out) {
        connection_handle *handle = luaL_checkudata(L, (int)context, CONNECTION_METATABLE);
        clua_tcp_callbacks *tcp = tcp_of(L);
        tcp->close(tcp->context, handle->id, 2);
        handle->id = -1;
        return fail(L, "timeout", NULL, 0);
    }
    return connect_attempt(L, (int)context);
}

/* tapir.tcp.connect{ip or ipv6 =, port =, from =, [mac =], [timeout =]} -> conn, or nil, err */
static int tcp_connect(lua_State *L) {
    clua_tcp_callbacks *tcp = tcp_of(L);
    clua_current_task(L, "tapir.tcp.connect");
    clua_key options[CLUA_MAX_KEYS];
    int count = clua_read_options(L, 1, options);
    int64_t timeout = 10000;
    for (int i = 0; i < count; i++) {
        if (strcmp(options[i].name, "timeout") == 0 && !options[i].is_string) timeout = options[i].integer_value;
    }
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int64_t id = tcp->connect(tcp->context, options, count, error);
    if (id < 0) raise_message(L, error);
    clua_tcp_push_connection(L, (const void *)(intptr_t)id);
    connection_handle *handle = lua_touserdata(L, -1);
    handle->timeout_ms = timeout;
    return connect_attempt(L, lua_gettop(L));
}

/* ---- install ---- */

typedef struct install_request {
    const clua_tcp_callbacks *callbacks;
} install_request;

static int install(lua_State *L) {
    install_request *request = clua_protected_userdata(L);
    clua_host *host = clua_host_of(L);
    host->tcp = *request->callbacks;

    static const luaL_Reg listener_methods[] = { {"close", listener_close}, {NULL, NULL} };
    luaL_newmetatable(L, LISTENER_METATABLE);
    luaL_newlib(L, listener_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, listener_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    static const luaL_Reg connection_methods[] = {
        {"receive", connection_receive}, {"receiveany", connection_receiveany}, {"send", connection_send},
        {"close", connection_close}, {"shutdown", connection_shutdown}, {"abort", connection_abort},
        {"settimeout", connection_settimeout}, {"setoption", connection_setoption}, {NULL, NULL},
    };
    luaL_newmetatable(L, CONNECTION_METATABLE);
    luaL_newlib(L, connection_methods);
    lua_setfield(L, -2, "methods");
    lua_pushcfunction(L, connection_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, connection_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);

    static const luaL_Reg functions[] = { {"listen", tcp_listen}, {"connect", tcp_connect}, {NULL, NULL} };
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "tapir");
    luaL_newlib(L, functions);
    lua_setfield(L, -2, "tcp");
    lua_pop(L, 2);
    return 0;
}

int clua_install_tcp(clua_host *host, const clua_tcp_callbacks *callbacks, clua_result *result) {
    install_request request = { callbacks };
    return clua_protected(host, install, &request, 0, result);
}
