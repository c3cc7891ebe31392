#ifndef TAPIR_CLUA_TCP_H
#define TAPIR_CLUA_TCP_H

/*
 * TCP for scripts (tapir.tcp): listeners whose function runs as a task per connection,
 * connections opened from a task, and a connection's methods in LuaSocket's and
 * OpenResty's names (receive, send, close, shutdown, settimeout). The host's TCP engine
 * does the protocol; C checks arguments, yields while a call must wait (CLuaTasks.h) and
 * turns a peer's behaviour into nil, err ("closed", "reset", "timeout"), never an error.
 */

#include <stdint.h>

/* How conn:receive reads. */
typedef enum clua_receive_mode {
    CLUA_RECEIVE_LINE = 1,     /* "*l": a line, without its \n (and a \r before it) */
    CLUA_RECEIVE_ALL = 2,      /* "*a": everything until the peer's FIN */
    CLUA_RECEIVE_COUNT = 3,    /* n: exactly n bytes */
    CLUA_RECEIVE_ANY = 4,      /* receiveany(max): what has come, 1 to max bytes */
} clua_receive_mode;

/* Results of a receive or a connect attempt. */
enum {
    CLUA_TCP_DONE = 1,         /* the data is in *bytes / *length (valid until the next call) */
    CLUA_TCP_WAIT = 0,         /* nothing yet: wait for the connection, then try again */
    CLUA_TCP_FAILED = -1,      /* error holds "closed", "reset", "timeout"...; a receive may
                                  leave what came before the end in *bytes / *length */
    CLUA_TCP_REFUSED = -2,     /* error holds a message to raise (bad use, not the peer) */
};

typedef struct clua_tcp_callbacks {
    void *context;
    /* tapir.tcp.listen{port, ip, ipv6, backlog, mac}: returns a listener id > 0, or -1
       with a message. function_ref runs as a task per accepted connection. */
    int64_t (*listen)(void *context, const clua_key *options, int option_count, int function_ref, char *error);
    /* listener:close(): the function_ref to release, or LUA_NOREF if closed already. */
    int (*close_listener)(void *context, int64_t listener_id);
    /* tapir.tcp.connect{ip or ipv6, port, from, mac, dev}: a connection id > 0 (opening),
       or -1 with a message (bad options: raised). */
    int64_t (*connect)(void *context, const clua_key *options, int option_count, char *error);
    /* Whether the opening connection is established: DONE, WAIT or FAILED with a reason. */
    int (*connected)(void *context, int64_t connection, char *error);
    int (*receive)(void *context, int64_t connection, int mode, int64_t count,
                   const uint8_t **bytes, size_t *length, char *error);
    /* Queues bytes: how many were taken (0 when the send buffer is full: wait, then call
       again), or -1 with a reason ("closed", "reset"). */
    int64_t (*send)(void *context, int64_t connection, const uint8_t *bytes, size_t length, char *error);
    /* how: 0 close, 1 shutdown (no more sending), 2 abort (reset). */
    void (*close)(void *context, int64_t connection, int how);
    /* The connection's fields as an encoded value ({peer = {ip, port}, ["local"] = {ip, port},
       state, counters}), valid until the next call; -1 if there is no such connection. */
    int (*describe)(void *context, int64_t connection, const uint8_t **data, size_t *length);
    /* conn:setoption("nodelay", on): Nagle off (on) or on. */
    void (*set_nagle)(void *context, int64_t connection, int on);
} clua_tcp_callbacks;

/* Adds tapir.tcp. Protected; returns a status. */
int clua_install_tcp(clua_host *host, const clua_tcp_callbacks *callbacks, clua_result *result);

/* Pushes a new connection object for `connection` (an int64 id cast to a pointer): a
   clua_task_start pusher. */
void clua_tcp_push_connection(lua_State *L, const void *connection);

#endif
