// Creating and closing a state.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clua_internal.h"

/* Never reached: nothing runs unprotected. If it is, stop loudly rather than longjmp
   into nowhere. */
static int panic(lua_State *L) {
    const char *message = lua_tostring(L, -1);
    fprintf(stderr, "tapir: unprotected Lua error: %s\n", message != NULL ? message : "?");
    abort();
}

/* Lua warnings (warn(), errors in __gc finalizers) go to the log at warn level. A
   warning may come in pieces; "@on" and "@off" alone turn them on and off. */
static void forward_warning(void *userdata, const char *piece, int continues) {
    clua_host *host = userdata;
    if (!host->warning_continues && !continues && piece[0] == '@') {
        if (strcmp(piece, "@off") == 0) host->warnings_off = 1;
        else if (strcmp(piece, "@on") == 0) host->warnings_off = 0;
        return;
    }
    size_t room = sizeof host->warning - 1 - host->warning_length;
    size_t length = strlen(piece);
    if (length > room) length = room;
    memcpy(host->warning + host->warning_length, piece, length);
    host->warning_length += length;
    host->warning_continues = continues;
    if (continues) return;
    host->warning[host->warning_length] = '\0';
    if (!host->warnings_off)
        host->callbacks.log(host->callbacks.context, CLUA_LOG_WARN, host->warning,
                            host->warning_length);
    host->warning_length = 0;
}

typedef struct setup_request {
    const clua_options *options;
} setup_request;

static int set_up(lua_State *L) {
    setup_request *request = clua_protected_userdata(L);
    clua_open_libraries(L, request->options);
    clua_open_tapir(L);
    return 0;
}

clua_host *clua_host_new(const clua_options *options, const clua_callbacks *callbacks) {
    clua_host *host = calloc(1, sizeof *host);
    if (host == NULL) return NULL;
    host->callbacks = *callbacks;
    host->trusted = options->trusted;
    host->memory_cap = options->memory_cap;
    host->instruction_budget = options->instruction_budget;

    host->L = lua_newstate(clua_allocate, host);
    if (host->L == NULL) {
        clua_free_small_blocks(host);
        free(host);
        return NULL;
    }
    lua_atpanic(host->L, panic);
    lua_setwarnf(host->L, forward_warning, host);
    clua_budget_install(host);

    setup_request request = { options };
    clua_result result;
    int status = clua_protected(host, set_up, &request, 0, &result);
    clua_result_release(host, &result);
    if (status != LUA_OK) {
        clua_host_close(host);
        return NULL;
    }
    return host;
}

void clua_host_close(clua_host *host) {
    if (host == NULL) return;
    /* Finalizers run here, under a fresh budget; their errors become warnings. */
    clua_budget_close(host);
    clua_budget_begin_call(host);
    clua_packet_wear_own(host);
    lua_close(host->L);
    clua_free_small_blocks(host);
    free(host);
}
