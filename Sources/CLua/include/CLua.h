#ifndef TAPIR_CLUA_H
#define TAPIR_CLUA_H

/*
 * The C side of LuaHost. A Lua error is a longjmp and must never cross a Swift frame,
 * so everything that can raise (argument checks, lua_error, and any allocation, which
 * can fail under the memory cap) happens here, inside a protected call. Swift calls the
 * clua_* entry points below; they return status codes (LUA_OK, LUA_ERRRUN, LUA_ERRMEM,
 * LUA_ERRERR, LUA_ERRSYNTAX) and plain values.
 *
 * Rule for Swift callers: never call a raw lua_* function that can allocate or raise on
 * a clua_host's state. Everything needed is here.
 */

#include <stddef.h>
#include <stdint.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include <lua5.4/lualib.h>

/* One Lua state with its memory cap, instruction budget and callbacks. Opaque. */
typedef struct clua_host clua_host;

/* Log levels of tapir.log.* (and of host messages reported through the same sink). */
typedef enum clua_log_level {
    CLUA_LOG_DEBUG = 0,
    CLUA_LOG_INFO = 1,
    CLUA_LOG_WARN = 2,
    CLUA_LOG_ERROR = 3,
} clua_log_level;

/* One key of a tapir.on keys table ({dport = 53}): a field name and an integer or a string. */
typedef struct clua_key {
    const char *name;
    size_t name_length;
    int is_string;              /* 1: string_value/string_length; 0: integer_value */
    lua_Integer integer_value;
    const char *string_value;
    size_t string_length;
} clua_key;

/* Most keys one tapir.on call may give. */
#define CLUA_MAX_KEYS 16

/* Size of the buffer a callback may write an error message into (NUL-terminated). */
#define CLUA_ERROR_CAPACITY 256

/*
 * Callbacks into Swift. They receive plain values (pointers into Lua strings are valid
 * only during the callback) and return plain values; they never touch the Lua state.
 * C turns a refusal into a Lua error.
 */
typedef struct clua_callbacks {
    void *context;
    /* tapir.on(selector, [keys], fn): the function is already in the registry as
       function_ref; defined_at is where it was written ("file:line"). Returns a handler id >= 0, or -1 after writing a message into error
       (C then raises it, with the caller's file:line, and releases the reference). */
    int64_t (*on_register)(void *context, const char *selector, size_t selector_length,
                           const clua_key *keys, int key_count, int has_keys,
                           int function_ref, const char *defined_at, char *error);
    /* (A refusal returns -N, N being the argument at fault: 1 the selector, 2 the keys;
       C raises "bad argument #N to 'on' (<error>)".) */
    /* handle:off(): returns the function_ref to release, or LUA_NOREF if already off. */
    int (*on_off)(void *context, int64_t handler_id);
    /* tapir.log.<level>(...): the arguments joined by tabs, as print does. */
    void (*log)(void *context, clua_log_level level, const char *message, size_t length);
} clua_callbacks;

/* Options of a new state. */
typedef struct clua_options {
    size_t memory_cap;          /* bytes the state may hold; 0 = no cap */
    int64_t instruction_budget; /* VM instructions per host call; 0 = no budget */
    int trusted;                /* 1: also io, debug, full os, package.loadlib */
    const char *package_path;   /* package.path, e.g. "dir/?.lua;dir/?/init.lua"; NULL = "" */
    int pack;                   /* 1 (untrusted only): what is withheld raises, naming the permission */
    unsigned permissions;       /* a pack's granted permissions, CLUA_PERMISSION_* bits */
} clua_options;

/* Permissions a pack may ask for in its manifest and a user grant with --allow. */
#define CLUA_PERMISSION_IO 1u     /* the io library, os.remove, os.rename, os.tmpname */
#define CLUA_PERMISSION_EXEC 2u   /* os.execute */
#define CLUA_PERMISSION_ENV 4u    /* os.getenv */
#define CLUA_PERMISSION_DEBUG 8u  /* the debug library, but never debug.sethook */

/* The outcome of a protected call. After a call that left an error or results on the
   stack, Swift copies what it needs, then calls clua_result_release. */
typedef struct clua_result {
    int status;                 /* LUA_OK or an error status */
    int budget_exceeded;        /* 1: the instruction budget stopped the call */
    int returned_true;          /* 1: the first result was the boolean true */
    const char *message;        /* error message (points into the state; valid until release) */
    size_t message_length;
    const char *traceback;      /* "stack traceback:\n..." or NULL */
    size_t traceback_length;
    int stack_base;             /* private: stack top before the call */
    int holds_stack;            /* private: 1 while something is left on the stack */
} clua_result;

/* Kinds of argument Swift can pass to a Lua function. */
typedef enum clua_argument_kind {
    CLUA_ARGUMENT_NIL = 0,
    CLUA_ARGUMENT_BOOLEAN,      /* integer != 0 */
    CLUA_ARGUMENT_INTEGER,      /* integer */
    CLUA_ARGUMENT_NUMBER,       /* number */
    CLUA_ARGUMENT_STRING,       /* pointer, length (bytes, copied) */
    CLUA_ARGUMENT_LIGHT_USERDATA, /* pointer */
    CLUA_ARGUMENT_REFERENCE,    /* integer: a registry reference */
    CLUA_ARGUMENT_PUSHER,       /* pusher(L, pointer) pushes one value, inside the protected call */
    CLUA_ARGUMENT_ENCODED,      /* pointer, length: an encoded value (see Encoded values) */
} clua_argument_kind;

typedef struct clua_argument {
    clua_argument_kind kind;
    lua_Integer integer;
    lua_Number number;
    const void *pointer;
    size_t length;
    void (*pusher)(lua_State *L, const void *pointer);
} clua_argument;

/* Creating and closing. NULL when the state cannot be made (cap too small, no memory). */
clua_host *clua_host_new(const clua_options *options, const clua_callbacks *callbacks);
void clua_host_close(clua_host *host);

/* Memory: bytes held now, most ever held, and the cap (changeable; 0 = no cap). */
size_t clua_memory_used(const clua_host *host);
size_t clua_memory_peak(const clua_host *host);
/* What the state's allocator has done since the state was made: calls that allocated or
   resized a block, and the bytes they added (a benchmark's Lua allocation per packet). */
uint64_t clua_allocations(const clua_host *host);
uint64_t clua_bytes_allocated(const clua_host *host);
void clua_set_memory_cap(clua_host *host, size_t cap);
/* Full garbage collection, protected. */
int clua_collect_garbage(clua_host *host);

/* Instruction budget per host call (0 = none). */
void clua_set_instruction_budget(clua_host *host, int64_t budget);
int64_t clua_instruction_budget(const clua_host *host);

/* Fuzzing: a function told of every Lua line run, with its chunk's source string (the
   same pointer for every line of a chunk while the state lives) and the line number, in
   every state made after it is set. It rides on the budget's hook (a state has one hook),
   so it is process-wide and set before any state exists. NULL, the default, costs nothing. */
typedef void (*clua_line_observer)(const char *source, int line);
void clua_set_line_observer(clua_line_observer observer);

/* Loading: text chunks only. Runs the chunk's top level under the budget. */
int clua_load_file(clua_host *host, const char *path, clua_result *result);
int clua_load_string(clua_host *host, const char *chunk, size_t length, const char *chunk_name,
                     clua_result *result);
/* Loads an expression or chunk returning one value, and keeps that value as a registry
   reference in *reference (LUA_REFNIL for nil). For tests and host-made Lua values. */
int clua_evaluate_to_reference(clua_host *host, const char *chunk, size_t length,
                               const char *chunk_name, int *reference, clua_result *result);

/* Runs body(L, context) inside a protected call, under the budget: the way the host runs
   C code that builds Lua values (installing an API, pushing host data), with whatever it
   raises caught and returned as a status and a message in result. body leaves the stack
   as it found it. */
typedef void (*clua_protected_body)(lua_State *L, void *context);
int clua_run_protected(clua_host *host, clua_protected_body body, void *context,
                       clua_result *result);

/* Calls the function kept as a registry reference, under the budget. */
int clua_call_reference(clua_host *host, int function_reference, const clua_argument *arguments,
                        int argument_count, clua_result *result);

/* The per-packet call: the handler at function_reference with (packet, device). The
   packet object is pushed from its registry slot and the device by id; when the device's
   userdata is made already (every packet but its first), nothing is pushed inside a
   protected C function: lua_pcall enters the handler directly. */
struct clua_packet;
int clua_call_handler(clua_host *host, int function_reference, const struct clua_packet *packet,
                      int64_t device_id, clua_result *result);
/* The value kept as `reference`, as tostring shows it, in *text (valid until
   clua_result_release). */
int clua_reference_text(clua_host *host, int reference, const char **text, size_t *length,
                        clua_result *result);
/* Releases what a result left on the stack. Call once after each call that filled a result. */
void clua_result_release(clua_host *host, clua_result *result);
/* Releases a registry reference. Protected; returns a status. */
int clua_unreference(clua_host *host, int reference);

/*
 * Encoded values: the one form plain data takes between the host and Lua, both ways.
 * 'n' nil, 't' true, 'f' false, 'i' int64 (little-endian), 'd' double, 's' u32 length
 * (little-endian) + bytes, '{' u32 pair count + (key, value) pairs; from Lua only, 'x' u32
 * length + a type name, for a value of another type (a function, userdata, a thread).
 * Tables nest at most 32 deep.
 */
/* Sets tapir.<name> to an encoded value (tapir.config). Protected; returns a status. */
int clua_set_tapir_field(clua_host *host, const char *name, const uint8_t *data, size_t length,
                         clua_result *result);
/* Encodes the value kept as `reference` into *data (valid until clua_result_release). A
   table nested deeper than 32 (or holding itself) is an error. */
int clua_encode_reference(clua_host *host, int reference, const uint8_t **data, size_t *length,
                          clua_result *result);

/* Copies tapir.state of `from` into tapir.state of `to` (plain data: booleans, numbers,
   strings, tables of them; shared tables and cycles are kept as they are; functions,
   userdata and threads are skipped, each reported through to's log callback as a warning).
   An error (too deep, out of memory in `to`) comes back in result, with nothing replaced. */
int clua_copy_state(clua_host *from, clua_host *to, clua_result *result);

/* A cheap counter for timing handler calls: the CPU's time-stamp counter on x86-64, the
   virtual counter on AArch64, else CLOCK_MONOTONIC nanoseconds. Its rate is not known
   here: compare two readings with the monotonic clock to turn ticks into time. */
uint64_t clua_ticks(void);

/* Number of values on the Lua stack; for tests that check nothing leaks. */
int clua_stack_depth(const clua_host *host);

#include "CLuaRuntime.h"
#include "CLuaTasks.h"
#include "CLuaTCP.h"

#endif

#include "CLuaPacket.h"
#include "CLuaConsole.h"
#include "CLuaSources.h"
