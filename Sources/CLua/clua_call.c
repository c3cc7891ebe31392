// Protected calls: the only way Swift runs anything on a state. A light C function and a
// light userdata are pushed (no allocation) and lua_pcall'd with a message handler; the
// real work happens inside, where a Lua error is caught by Lua itself. The per-packet
// handler call (clua_call_handler), whose pushes cannot raise once the device is known,
// skips that C function: the handler is pushed with its arguments and lua_pcall'd.
#include <string.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif
#include "clua_internal.h"

/* The message handler: error message, then a NUL, then the traceback. Runtime errors
   only; Lua does not call it for memory errors. */
static int add_traceback(lua_State *L) {
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            message = lua_tostring(L, -1);
        else
            message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_pushstring(L, message);
    lua_pushlstring(L, "", 1);          /* the separator: one NUL byte */
    luaL_traceback(L, L, NULL, 1);
    lua_concat(L, 3);
    return 1;
}

static void split_error(lua_State *L, int status, clua_result *result) {
    size_t length = 0;
    const char *text = lua_tolstring(L, -1, &length);  /* always a string here */
    if (text == NULL) {
        text = "(error object is not a string)";
        length = strlen(text);
    }
    result->message = text;
    result->message_length = length;
    if (status == LUA_ERRRUN) {
        const char *separator = NULL;
        for (size_t i = length; i > 0; i--) {
            if (text[i - 1] == '\0') { separator = text + i - 1; break; }
        }
        if (separator != NULL) {
            result->message_length = (size_t)(separator - text);
            result->traceback = separator + 1;
            result->traceback_length = length - result->message_length - 1;
        }
    }
}

/* After lua_pcall: the result fields, with the stack kept until clua_result_release. */
static int finish_call(clua_host *host, int status, int nresults, clua_result *result) {
    lua_State *L = host->L;
    result->budget_exceeded = status != LUA_OK && host->budget_exceeded;
    clua_budget_end_call(host);

    result->status = status;
    if (status != LUA_OK) {
        split_error(L, status, result);
    } else if (nresults > 0) {
        int first = result->stack_base + 2;
        result->returned_true = lua_type(L, first) == LUA_TBOOLEAN && lua_toboolean(L, first);
    }
    return status;
}

/* Starts a call's result (the stack held from here) and pushes the message handler. */
static void begin_call(clua_host *host, clua_result *result) {
    clua_packet_wear_own(host);
    memset(result, 0, sizeof *result);
    result->stack_base = lua_gettop(host->L);
    result->holds_stack = 1;
    lua_pushcfunction(host->L, add_traceback);
}

int clua_protected(clua_host *host, lua_CFunction body, void *userdata, int nresults,
                   clua_result *result) {
    lua_State *L = host->L;
    begin_call(host, result);
    lua_pushcfunction(L, body);
    lua_pushlightuserdata(L, userdata);
    clua_budget_begin_call(host);
    int status = lua_pcall(L, 1, nresults, result->stack_base + 1);
    return finish_call(host, status, nresults, result);
}

void *clua_protected_userdata(lua_State *L) {
    return lua_touserdata(L, 1);
}

typedef struct protected_run {
    clua_protected_body body;
    void *context;
} protected_run;

static int run_body(lua_State *L) {
    protected_run *run = clua_protected_userdata(L);
    run->body(L, run->context);
    return 0;
}

int clua_run_protected(clua_host *host, clua_protected_body body, void *context,
                       clua_result *result) {
    protected_run run = { body, context };
    return clua_protected(host, run_body, &run, 0, result);
}

void clua_result_release(clua_host *host, clua_result *result) {
    if (!result->holds_stack) return;
    lua_settop(host->L, result->stack_base);
    result->holds_stack = 0;
    result->message = NULL;
    result->traceback = NULL;
}

int clua_stack_depth(const clua_host *host) { return lua_gettop(host->L); }

uint64_t clua_ticks(void) {
#if defined(__x86_64__)
    return __rdtsc();
#elif defined(__aarch64__)
    uint64_t ticks;
    __asm__ volatile("mrs %0, cntvct_el0" : "=r"(ticks));
    return ticks;
#else
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
#endif
}

/* ---- Loading text chunks ---- */

typedef struct load_request {
    const char *path;           /* a file, or NULL for a string chunk */
    const char *chunk;
    size_t length;
    const char *chunk_name;
    int keep_result;            /* 1: keep the chunk's first result as a reference */
    int reference;
    int load_status;            /* status of the load step alone */
} load_request;

/* A load failure is returned as a value (not raised), so its status stays LUA_ERRSYNTAX
   or LUA_ERRFILE rather than becoming a runtime error. */
static int load_and_run(lua_State *L) {
    load_request *request = clua_protected_userdata(L);
    int status = request->path != NULL
        ? luaL_loadfilex(L, request->path, "t")
        : luaL_loadbufferx(L, request->chunk, request->length, request->chunk_name, "t");
    if (status != LUA_OK) {
        request->load_status = status;
        return 1;  /* the message */
    }
    if (request->keep_result) {
        lua_call(L, 0, 1);
        request->reference = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        lua_call(L, 0, 0);
    }
    return 0;
}

static int run_load(clua_host *host, load_request *request, clua_result *result) {
    int status = clua_protected(host, load_and_run, request, LUA_MULTRET, result);
    if (status == LUA_OK && request->load_status != LUA_OK) {
        status = request->load_status;
        result->status = status;
        split_error(host->L, status, result);
    }
    return status;
}

int clua_load_file(clua_host *host, const char *path, clua_result *result) {
    load_request request = { .path = path };
    return run_load(host, &request, result);
}

int clua_load_string(clua_host *host, const char *chunk, size_t length, const char *chunk_name,
                     clua_result *result) {
    load_request request = { .chunk = chunk, .length = length, .chunk_name = chunk_name };
    return run_load(host, &request, result);
}

int clua_evaluate_to_reference(clua_host *host, const char *chunk, size_t length,
                               const char *chunk_name, int *reference, clua_result *result) {
    load_request request = { .chunk = chunk, .length = length, .chunk_name = chunk_name,
                             .keep_result = 1, .reference = LUA_NOREF };
    int status = run_load(host, &request, result);
    *reference = request.reference;
    return status;
}

/* ---- Calling Lua values kept in the registry ---- */

typedef struct call_request {
    int function_reference;
    const clua_argument *arguments;
    int argument_count;
} call_request;

static void push_argument(lua_State *L, const clua_argument *argument) {
    switch (argument->kind) {
    case CLUA_ARGUMENT_NIL: lua_pushnil(L); break;
    case CLUA_ARGUMENT_BOOLEAN: lua_pushboolean(L, argument->integer != 0); break;
    case CLUA_ARGUMENT_INTEGER: lua_pushinteger(L, argument->integer); break;
    case CLUA_ARGUMENT_NUMBER: lua_pushnumber(L, argument->number); break;
    case CLUA_ARGUMENT_STRING:
        lua_pushlstring(L, argument->pointer != NULL ? argument->pointer : "", argument->length);
        break;
    case CLUA_ARGUMENT_LIGHT_USERDATA: lua_pushlightuserdata(L, (void *)argument->pointer); break;
    case CLUA_ARGUMENT_REFERENCE: lua_rawgeti(L, LUA_REGISTRYINDEX, argument->integer); break;
    case CLUA_ARGUMENT_ENCODED: clua_push_encoded(L, argument->pointer, argument->length); break;
    case CLUA_ARGUMENT_PUSHER:
        if (argument->pusher == NULL) luaL_error(L, "host error: argument pusher missing");
        argument->pusher(L, argument->pointer);
        break;
    default: luaL_error(L, "host error: unknown argument kind %d", (int)argument->kind);
    }
}

static int call_function(lua_State *L) {
    call_request *request = clua_protected_userdata(L);
    luaL_checkstack(L, request->argument_count + 1, "too many arguments");
    lua_rawgeti(L, LUA_REGISTRYINDEX, request->function_reference);
    for (int i = 0; i < request->argument_count; i++)
        push_argument(L, &request->arguments[i]);
    lua_call(L, request->argument_count, 1);
    return 1;
}

int clua_call_reference(clua_host *host, int function_reference, const clua_argument *arguments,
                        int argument_count, clua_result *result) {
    call_request request = { function_reference, arguments, argument_count };
    return clua_protected(host, call_function, &request, 1, result);
}

int clua_call_handler(clua_host *host, int function_reference, const struct clua_packet *packet,
                      int64_t device_id, clua_result *result) {
    lua_State *L = host->L;
    if (!clua_device_is_cached(host, device_id) || !lua_checkstack(L, 4)) {
        clua_argument arguments[2] = {
            { .kind = CLUA_ARGUMENT_PUSHER, .pointer = packet, .pusher = clua_packet_push },
            { .kind = CLUA_ARGUMENT_PUSHER, .pointer = (const void *)(intptr_t)device_id,
              .pusher = clua_push_device },
        };
        call_request request = { function_reference, arguments, 2 };
        return clua_protected(host, call_function, &request, 1, result);
    }
    begin_call(host, result);
    lua_rawgeti(L, LUA_REGISTRYINDEX, function_reference);
    lua_rawgeti(L, LUA_REGISTRYINDEX, packet->reference);
    clua_packet_dress(L, (struct clua_packet *)packet, -1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, host->device_refs[device_id]);
    clua_budget_begin_call(host);
    int status = lua_pcall(L, 2, 1, result->stack_base + 1);
    return finish_call(host, status, 1, result);
}

static int release_reference(lua_State *L) {
    int *reference = clua_protected_userdata(L);
    luaL_unref(L, LUA_REGISTRYINDEX, *reference);
    return 0;
}

int clua_unreference(clua_host *host, int reference) {
    clua_result result;
    int status = clua_protected(host, release_reference, &reference, 0, &result);
    clua_result_release(host, &result);
    return status;
}
