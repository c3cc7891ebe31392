// The instruction budget: a count hook set on the main thread before any script runs, so
// every coroutine inherits it (lua_newthread copies hook, mask and count in 5.4). All
// threads add to one counter per outermost host call. Past the budget the hook raises,
// and stays armed at every instruction on whichever thread runs next, so a pcall in the
// script cannot swallow the error: the very next instruction raises again. The host
// clears this at the start of its next call.
//
// A fuzz target may also ask to be told of every line run (clua_set_line_observer): the
// same hook then takes line events too and passes them on.
#include "clua_internal.h"

enum { MAXIMUM_HOOK_STEP = 1000 };

static clua_line_observer line_observer;

void clua_set_line_observer(clua_line_observer observer) { line_observer = observer; }

static int hook_mask(void) { return LUA_MASKCOUNT | (line_observer ? LUA_MASKLINE : 0); }

static void budget_hook(lua_State *L, lua_Debug *event) {
    if (event->event == LUA_HOOKLINE) {
        if (line_observer && lua_getinfo(L, "S", event)) line_observer(event->source, event->currentline);
        return;
    }
    clua_host *host = clua_host_of(L);
    host->instructions_executed += lua_gethookcount(L);
    /* A SIGINT may have set the interrupt hook while this one ran, and the sethook below
       would then replace it: the request itself is what counts. */
    clua_raise_if_interrupted(L, host);

    int over = host->budget_exceeded
        || (host->instruction_budget > 0 && host->call_depth > 0
            && host->instructions_executed > host->instruction_budget);
    if (!over) {
        /* A coroutine may still carry the every-instruction count from an earlier call. */
        if (lua_gethookcount(L) != host->hook_step)
            lua_sethook(L, budget_hook, hook_mask(), host->hook_step);
        return;
    }
    host->budget_exceeded = 1;
    if (lua_gethookcount(L) != 1)
        lua_sethook(L, budget_hook, hook_mask(), 1);
    /* Level 0: inside a hook that is the Lua function running, whose line we want. */
    luaL_where(L, 0);
    lua_pushfstring(L, "instruction budget exceeded (%I instructions)",
                    (LUAI_UACINT)host->instruction_budget);
    lua_concat(L, 2);
    lua_error(L);
}

static int hook_step_for(int64_t budget) {
    if (budget <= 0 || budget > MAXIMUM_HOOK_STEP) return MAXIMUM_HOOK_STEP;
    return (int)budget;
}

void clua_budget_install(clua_host *host) {
    host->hook_step = hook_step_for(host->instruction_budget);
    lua_sethook(host->L, budget_hook, hook_mask(), host->hook_step);
}

void clua_budget_rearm(lua_State *L) {
    lua_sethook(L, budget_hook, hook_mask(), clua_host_of(L)->hook_step);
}

void clua_budget_begin_call(clua_host *host) {
    if (host->call_depth++ > 0) return;
    host->instructions_executed = 0;
    host->budget_exceeded = 0;
    lua_sethook(host->L, budget_hook, hook_mask(), host->hook_step);  /* also resets the count */
}

void clua_budget_end_call(clua_host *host) {
    host->call_depth--;
}

void clua_set_instruction_budget(clua_host *host, int64_t budget) {
    host->instruction_budget = budget;
    clua_budget_install(host);
}

int64_t clua_instruction_budget(const clua_host *host) { return host->instruction_budget; }
