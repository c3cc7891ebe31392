#ifndef TAPIR_CLUA_CONSOLE_H
#define TAPIR_CLUA_CONSOLE_H

/* The console's native pieces: one Lua function through which the console prelude
   (lua/tapir/console.lua) asks the host for what Lua cannot do (print above the line
   being typed, run a command in the sandbox, sniff, step a capture), and the Ctrl-C
   interrupt of a running chunk, done as lua.c does it. */

/* What console.lua asks: native(operation, text, integer, number). */
typedef struct clua_console_request {
    const char *operation;
    size_t operation_length;
    const char *text;           /* NULL when the second argument is not a string */
    size_t text_length;
    int64_t integer;            /* the third argument, 0 when absent */
    int has_integer;
    double number;              /* the fourth argument, 0 when absent */
    int has_number;
} clua_console_request;

/* Returns 0 and sets *reply (may stay NULL: no result) or -1 and fills error
   (CLUA_ERROR_CAPACITY bytes), which is raised in Lua. *reply stays valid until the
   next request. */
typedef int (*clua_console_handler)(void *context, const clua_console_request *request,
                                    const char **reply, size_t *reply_length, char *error);

/* Sets the global `__tapir_console_native` to the native function, bound to handler and
   context. */
int clua_console_install(clua_host *host, clua_console_handler handler, void *context,
                         clua_result *result);

/* While a console chunk runs: SIGINT is unblocked on the calling thread, with a handler
   that sets a hook on `host`'s state raising "interrupted!". Disarm blocks SIGINT again
   and restores the previous disposition (the event loop reads it from its signalfd). */
void clua_console_arm_interrupt(clua_host *host);
void clua_console_disarm_interrupt(void);

#endif
