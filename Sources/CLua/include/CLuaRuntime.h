#ifndef TAPIR_CLUA_RUNTIME_H
#define TAPIR_CLUA_RUNTIME_H

/*
 * The host's runtime in Lua: timers (tapir.after, tapir.every), devices (tapir.open,
 * tapir.devices, dev:write), tapir.stats, tapir.on_stop, tapir.now. Like the rest of
 * CLua, the C side checks arguments and raises; Swift answers through these callbacks
 * with plain values and never touches the Lua state.
 *
 * Plain data (stats, device descriptions) crosses from Swift as an encoded value (CLua.h),
 * pushed by C.
 */

#include <stddef.h>
#include <stdint.h>

/* What a query asks for. */
typedef enum clua_query {
    CLUA_QUERY_STATS = 1,        /* tapir.stats() */
    CLUA_QUERY_DEVICES = 2,      /* tapir.devices(): an array of device ids */
    CLUA_QUERY_DEVICE = 3,       /* the fields of device `argument` (name, mode, mac, mtu) */
} clua_query;

typedef struct clua_runtime_callbacks {
    void *context;
    /* tapir.after(ms, fn) / tapir.every(ms, fn). Returns a timer id > 0, or -1 after
       writing a message into error (C raises it). */
    int64_t (*schedule)(void *context, int64_t milliseconds, int repeating, int function_ref,
                        char *error);
    /* timer:cancel(): the function_ref to release, or LUA_NOREF when it was not active. */
    int (*cancel)(void *context, int64_t timer_id);
    /* dev:write(bytes): 1 written, 0 not written (counted, e.g. ENOBUFS or the device is
       gone), -1 after writing a message into error (C raises it). */
    int (*write)(void *context, int64_t device_id, const uint8_t *bytes, size_t length,
                 char *error);
    /* tapir.open{...}: the options table's keys (like tapir.on's keys). Returns a device
       id > 0, or -1 with a message. */
    int64_t (*open)(void *context, const clua_key *options, int option_count, char *error);
    /* tapir.on_stop(fn) */
    void (*on_stop)(void *context, int function_ref);
    /* An encoded plain value for a query, valid until the next query; 0 on success,
       -1 when there is nothing to answer (C raises "no such device"). */
    int (*query)(void *context, int what, int64_t argument, const uint8_t **data, size_t *length);
    /* tapir.now(): nanoseconds on the host's clock (a capture's clock in replay). */
    int64_t (*now)(void *context);
} clua_runtime_callbacks;

/* Adds the runtime functions to the state's tapir table. Protected; returns a status. */
int clua_install_runtime(clua_host *host, const clua_runtime_callbacks *callbacks,
                         clua_result *result);

/* Pushes the device userdata for `device_id` (one per device per state, so two handler
   calls for the same device see the same value). Usable as a clua_argument PUSHER with
   the id cast to a pointer. */
void clua_push_device(lua_State *L, const void *device_id);

/* Sets `dev.mtu` of the state's device `device_id`, if Lua has seen that device (a state
   that has not asks the host when it first does). Allocates nothing: it never raises. */
void clua_device_set_mtu(clua_host *host, int64_t device_id, int64_t mtu);

/* Pushes an encoded plain value (CLua.h). Raises on malformed data. */
void clua_push_encoded(lua_State *L, const uint8_t *data, size_t length);

#endif
