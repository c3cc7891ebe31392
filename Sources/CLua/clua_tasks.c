// Tasks: coroutines the host runs (CLuaTasks.h). tapir.spawn starts one; tapir.sleep and
// tapir.request wait inside one. A task's thread is anchored in the registry (its
// task_ref) and listed in a table from thread to task_ref, so a waiting C function finds
// its own task; the host resumes it through clua_task_resume, one host call per resume.
#include <string.h>
#include "clua_internal.h"

static clua_task_callbacks *tasks_of(lua_State *L) {
    clua_host *host = clua_host_of(L);
    if (host->tasks.ready == NULL) luaL_error(L, "host error: tasks are not installed");
    return &host->tasks;
}

/* Pushes the table thread -> task_ref, making it on first use. */
static void push_task_table(lua_State *L) {
    clua_host *host = clua_host_of(L);
    if (host->task_table_ref == 0) {
        lua_newtable(L);
        lua_pushvalue(L, -1);
        host->task_table_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, host->task_table_ref);
}

static void raise_refusal(lua_State *L, const char *error) {
    luaL_error(L, "%s", error);
}

void clua_task_ready(lua_State *L, int task_ref) {
    clua_task_callbacks *tasks = tasks_of(L);
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    if (tasks->ready(tasks->context, task_ref, error) != 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        raise_refusal(L, error);
    }
}

int clua_current_task(lua_State *L, const char *name) {
    if (lua_pushthread(L)) {  /* 1: the main thread */
        lua_pop(L, 1);
        return luaL_error(L, "%s: only inside a task: start one with tapir.spawn(function() ... end)", name);
    }
    push_task_table(L);
    lua_insert(L, -2);
    lua_rawget(L, -2);
    int is_task = lua_isinteger(L, -1);
    int task_ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    if (!is_task)
        return luaL_error(L, "%s: only inside a task the host runs (tapir.spawn), not a coroutine of your own", name);
    if (!lua_isyieldable(L))
        return luaL_error(L, "%s: cannot wait here (inside a metamethod or a C function that cannot yield)", name);
    return task_ref;
}

int clua_task_wait(lua_State *L, const char *name, int kind, int64_t object, int64_t timeout_ms,
                   lua_KContext context, lua_KFunction k) {
    int task_ref = clua_current_task(L, name);
    clua_task_callbacks *tasks = tasks_of(L);
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    if (tasks->wait(tasks->context, task_ref, kind, object, timeout_ms, error) != 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        raise_refusal(L, error);
    }
    return lua_yieldk(L, 0, context, k);
}

/* Anchors the thread on top of L as a task: returns its task_ref (the thread stays). */
static int anchor_task(lua_State *L) {
    lua_pushvalue(L, -1);
    int task_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    push_task_table(L);
    lua_pushvalue(L, -2);
    lua_pushinteger(L, task_ref);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    clua_host_of(L)->task_count++;
    return task_ref;
}

/* Forgets a task that is over, its thread at `thread_index` of L (no allocation: a
   rawset of nil and an unref). */
static void release_task(lua_State *L, int thread_index, int task_ref) {
    clua_host *host = clua_host_of(L);
    push_task_table(L);
    lua_pushvalue(L, thread_index);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, task_ref);
    host->task_count--;
}

/* tapir.spawn(fn, ...) -> the task's coroutine. It runs as soon as the current host call
   (handler, timer, load, another task's resume) is over. */
static int tapir_spawn(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int count = lua_gettop(L);
    lua_State *thread = lua_newthread(L);
    int task_ref = anchor_task(L);
    luaL_checkstack(thread, count, "too many arguments to spawn");
    for (int i = 1; i <= count; i++) lua_pushvalue(L, i);
    lua_xmove(L, thread, count);
    clua_task_ready(L, task_ref);
    return 1;
}

static int sleep_continue(lua_State *L, int status, lua_KContext context) {
    (void)L; (void)status; (void)context;
    return 0;
}

/* tapir.sleep(ms) */
static int tapir_sleep(lua_State *L) {
    lua_Number milliseconds = luaL_checknumber(L, 1);
    luaL_argcheck(L, milliseconds >= 0, 1, "milliseconds must not be negative");
    return clua_task_wait(L, "tapir.sleep", CLUA_WAIT_TIME, 0, (int64_t)milliseconds, 0, sleep_continue);
}

/* ---- tapir.request(bytes, selector, [keys], [timeout_ms], [dev]) ---- */

enum { REQUEST_STATE = 1 };  /* upvalue of the answer handler, and a stack slot of request */

/* The handler tapir.request registers: keeps a copy of the first matching packet, takes
   itself off and wakes the task. Claims the packet. */
static int request_answer(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(REQUEST_STATE));  /* state table */
    int state = lua_gettop(L);
    if (lua_getfield(L, state, "answer") != LUA_TNIL) {  /* answered already */
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pop(L, 1);
    lua_getfield(L, 1, "copy");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    lua_setfield(L, state, "answer");
    if (lua_getfield(L, state, "handle") != LUA_TNIL) {
        lua_getfield(L, -1, "off");
        lua_insert(L, -2);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
    lua_getfield(L, state, "task");
    int task_ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    clua_task_ready(L, task_ref);
    lua_pushboolean(L, 1);
    return 1;
}

static void request_off(lua_State *L, int state) {
    if (lua_getfield(L, state, "handle") != LUA_TNIL) {
        lua_getfield(L, -1, "off");
        lua_insert(L, -2);
        lua_call(L, 1, 0);
    } else {
        lua_pop(L, 1);
    }
}

static int request_continue(lua_State *L, int status, lua_KContext state) {
    (void)status;
    if (lua_getfield(L, (int)state, "answer") != LUA_TNIL) return 1;
    lua_pop(L, 1);
    request_off(L, (int)state);
    lua_pushnil(L);
    lua_pushliteral(L, "timeout");
    return 2;
}

static int tapir_request(lua_State *L) {
    size_t length = 0;
    const char *bytes = luaL_checklstring(L, 1, &length);
    luaL_checkstring(L, 2);
    int argument = 3;
    int keys = 0;
    if (lua_istable(L, argument)) keys = argument++;
    lua_Integer timeout = 1000;
    if (lua_isnumber(L, argument)) {
        timeout = (lua_Integer)lua_tonumber(L, argument);
        luaL_argcheck(L, timeout >= 0, argument, "timeout must not be negative");
        argument++;
    } else if (!lua_isnoneornil(L, argument) && !lua_isuserdata(L, argument)) {
        return luaL_argerror(L, argument, "a timeout in milliseconds or a device expected");
    }
    int device = 0;
    if (!lua_isnoneornil(L, argument)) {
        clua_check_device(L, argument);
        device = argument;
    }
    int task_ref = clua_current_task(L, "tapir.request");
    if (device == 0) {
        /* The first device of the host. */
        clua_runtime_callbacks *runtime = clua_runtime_of(L);
        clua_push_query(L, runtime, CLUA_QUERY_DEVICES, 0);
        if (lua_rawgeti(L, -1, 1) != LUA_TNUMBER)
            return luaL_error(L, "tapir.request: the host has no device to write to");
        int64_t id = lua_tointeger(L, -1);
        lua_pop(L, 2);
        clua_push_device(L, (const void *)(intptr_t)id);
        device = lua_gettop(L);
    }

    lua_newtable(L);
    int state = lua_gettop(L);
    lua_pushinteger(L, task_ref);
    lua_setfield(L, state, "task");

    /* handle = tapir.on(selector, [keys], answer) */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "tapir");
    lua_getfield(L, -1, "on");
    lua_pushvalue(L, 2);
    if (keys) lua_pushvalue(L, keys);
    lua_pushvalue(L, state);
    lua_pushcclosure(L, request_answer, 1);
    lua_call(L, keys ? 3 : 2, 1);
    lua_setfield(L, state, "handle");
    lua_pop(L, 2);

    clua_device_write(L, device, (const uint8_t *)bytes, length);
    lua_pop(L, 1);
    return clua_task_wait(L, "tapir.request", CLUA_WAIT_WAKE, 0, timeout, state, request_continue);
}

/* ---- Installing, starting and resuming ---- */

typedef struct install_request {
    const clua_task_callbacks *callbacks;
} install_request;

static int install(lua_State *L) {
    install_request *request = clua_protected_userdata(L);
    clua_host *host = clua_host_of(L);
    host->tasks = *request->callbacks;
    static const luaL_Reg functions[] = {
        {"spawn", tapir_spawn}, {"sleep", tapir_sleep}, {"request", tapir_request}, {NULL, NULL},
    };
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "tapir");
    luaL_setfuncs(L, functions, 0);
    lua_pop(L, 2);
    push_task_table(L);
    lua_pop(L, 1);
    return 0;
}

int clua_install_tasks(clua_host *host, const clua_task_callbacks *callbacks, clua_result *result) {
    install_request request = { callbacks };
    return clua_protected(host, install, &request, 0, result);
}

typedef struct start_request {
    int function_ref;
    void (*pusher)(lua_State *L, const void *pointer);
    const void *pointer;
    int task_ref;
} start_request;

static int start(lua_State *L) {
    start_request *request = clua_protected_userdata(L);
    lua_State *thread = lua_newthread(L);
    int task_ref = anchor_task(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, request->function_ref);
    int count = 1;
    if (request->pusher != NULL) {
        request->pusher(L, request->pointer);
        count = 2;
    }
    lua_xmove(L, thread, count);
    request->task_ref = task_ref;
    return 0;
}

int clua_task_start(clua_host *host, int function_ref, void (*pusher)(lua_State *L, const void *pointer),
                    const void *pointer, int *task_ref, clua_result *result) {
    start_request request = { function_ref, pusher, pointer, LUA_NOREF };
    int status = clua_protected(host, start, &request, 0, result);
    *task_ref = request.task_ref;
    return status;
}

typedef struct resume_request {
    int task_ref;
    int timed_out;
    int status;          /* the task's: LUA_YIELD, LUA_OK or an error */
} resume_request;

/* Runs inside a protected call on the main thread: resumes the task and, when it fails,
   leaves its message and traceback as the call's two results. */
static int resume(lua_State *L) {
    resume_request *request = clua_protected_userdata(L);
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, request->task_ref) != LUA_TTHREAD)
        return luaL_error(L, "host error: task %d is not alive", request->task_ref);
    int thread_index = lua_gettop(L);
    lua_State *thread = lua_tothread(L, thread_index);
    int arguments;
    if (lua_status(thread) == LUA_OK) {
        arguments = lua_gettop(thread) - 1;  /* its first run: the function and its arguments */
        if (arguments < 0) return luaL_error(L, "host error: task %d has nothing to run", request->task_ref);
    } else {
        if (!lua_checkstack(thread, 1)) return luaL_error(L, "task stack overflow");
        lua_pushboolean(thread, request->timed_out);
        arguments = 1;
    }
    clua_host *host = clua_host_of(L);
    clua_budget_enter_thread(host, thread);
    int results = 0;
    int status = lua_resume(thread, L, arguments, &results);
    clua_budget_leave_thread(host);
    request->status = status;
    if (status == LUA_YIELD) {
        lua_pop(thread, results);
        return 0;
    }
    if (status == LUA_OK) {
        lua_settop(thread, 0);
        release_task(L, thread_index, request->task_ref);
        return 0;
    }
    /* Failed: the message, then the task's own traceback. */
    lua_xmove(thread, L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
        if (!(luaL_callmeta(L, -1, "__tostring") && lua_type(L, -1) == LUA_TSTRING))
            lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, -1));
    }
    luaL_traceback(L, thread, NULL, 0);
    lua_resetthread(thread);
    release_task(L, thread_index, request->task_ref);
    return 2;
}

int clua_task_resume(clua_host *host, int task_ref, int timed_out, clua_result *result) {
    resume_request request = { task_ref, timed_out, LUA_OK };
    int status = clua_protected(host, resume, &request, LUA_MULTRET, result);
    if (status != LUA_OK) return status;
    if (request.status == LUA_OK || request.status == LUA_YIELD) return request.status;
    /* The task's error, as if the call had failed with it. */
    lua_State *L = host->L;
    int top = lua_gettop(L);
    size_t length = 0;
    result->status = request.status == LUA_ERRMEM ? LUA_ERRMEM : LUA_ERRRUN;
    result->message = lua_tolstring(L, top - 1, &length);
    result->message_length = length;
    result->traceback = lua_tolstring(L, top, &length);
    result->traceback_length = length;
    result->budget_exceeded = host->budget_exceeded;
    return result->status;
}

int clua_task_count(clua_host *host) { return host->task_count; }
