#ifndef TAPIR_CLUA_PACKET_H
#define TAPIR_CLUA_PACKET_H

/*
 * The packet object, tapir.build and pkt:reply on the C side (clua_packet.c, clua_build.c).
 *
 * One packet userdata per state is made once and bound to each frame before its handlers
 * run, then unbound: no allocation per packet. Field values come from ONE Swift callback
 * (read_field) that fills a plain struct; C pushes it. Builders and reply read their Lua
 * tables into plain structs here (raising Lua errors for wrong types; address and flag
 * strings are parsed by Swift, through `parse`), Swift writes the bytes into a buffer it
 * reuses, and C pushes them as a string.
 */

#include "CLua.h"

/* Most layers: the bits of `layers` (Packets' `Layers.rawValue`). Which layers there are,
   their numbers (bit indices) and names, come from Swift at install (Layers.names). */
#define CLUA_MAX_LAYERS 16

/* Most field ids (PacketField raw values are below this). */
#define CLUA_MAX_FIELDS 128
/* Room for a text value: an address, "eth:vlan:ip:udp", a malformed reason, tcp flags. */
#define CLUA_TEXT_CAPACITY 96
/* Bytes of a Swift DecodedFrame kept inside a packet (Swift checks that it fits). */
#define CLUA_FRAME_STORAGE 192
/* Room for tostring(pkt). */
#define CLUA_SUMMARY_CAPACITY 512

/* What a field read gives. */
typedef enum clua_value_kind {
    CLUA_VALUE_NIL = 0,
    CLUA_VALUE_INTEGER,     /* integer */
    CLUA_VALUE_BOOLEAN,     /* integer != 0 */
    CLUA_VALUE_TEXT,        /* text[0..<length] */
    CLUA_VALUE_BYTES,       /* the frame's bytes [offset, offset + length) */
    CLUA_VALUE_ADDRESS,     /* address[0..<length]: a MAC (6), IPv4 (4) or IPv6 (16) address,
                               network order; pushed as its text, kept in a cache per state */
} clua_value_kind;

typedef struct clua_field_value {
    clua_value_kind kind;
    lua_Integer integer;
    size_t offset;
    size_t length;
    uint8_t address[16];
    char text[CLUA_TEXT_CAPACITY];
} clua_field_value;

/* Address texts a state has pushed, by their bytes: a repeated address (the host's own,
   a busy peer's) is pushed from here, without its text being made again. Direct-mapped;
   the strings live in a Lua table, an upvalue of the layer proxies' __index. */
#define CLUA_ADDRESS_CACHE_SLOTS 64
/* How many sets of layers (eth:ip:udp, eth:arp, ...) get a live metatable of the reused
   packet: the first met (the decoder gives about two dozen in all, with and without a VLAN
   tag, on a tap and a tun; packets of any further set read through the packet's own
   metatable). And the slots of a layer's field-by-key hash (field_slot gives 8 bits). */
#define CLUA_LIVE_METATABLES 20
#define CLUA_FIELD_SLOTS 256

/* What a settable field takes (builders, reply overrides). */
typedef enum clua_field_kind {
    CLUA_FIELD_INTEGER = 0, /* a Lua integer */
    CLUA_FIELD_BOOLEAN,     /* true / false */
    CLUA_FIELD_MAC,         /* "02:00:00:00:00:01" (or 6 raw bytes) */
    CLUA_FIELD_IPV4,        /* "198.18.0.1" (or 4 raw bytes) */
    CLUA_FIELD_IPV6,        /* "2001:2::1" (or 16 raw bytes) */
    CLUA_FIELD_BYTES,       /* any string */
    CLUA_FIELD_TCP_FLAGS,   /* an integer or tcpdump letters: "S", "SA", "R.", "FA" */
} clua_field_kind;

/* Where a field's bytes start from, for a field C reads itself (clua_direct_field). */
typedef enum clua_field_base {
    CLUA_BASE_NONE = 0,     /* read through Swift (read_field) */
    CLUA_BASE_FRAME,        /* the frame's first byte (Ethernet addresses) */
    CLUA_BASE_NETWORK,      /* the IP header (DecodedFrame.networkOffset) */
    CLUA_BASE_TRANSPORT,    /* the transport header (DecodedFrame.transportOffset) */
} clua_field_base;

/* A field that is a plain big-endian value at a fixed place in its layer's header, read
   by C with no call into Swift (a field read is the idiomatic handler's most frequent
   operation). Integers and booleans: the `width` bytes at `offset`, then
   (value >> shift) & mask (a boolean: nonzero). Addresses (MAC, IPV4, IPV6 kinds): the
   `width` bytes as they are. Swift's own read of the field gives the same value
   (DirectFieldTests compares them). */
typedef struct clua_direct_field {
    unsigned char base;     /* clua_field_base */
    unsigned char width;    /* 1, 2 or 4 bytes; an address's 6, 4 or 16 */
    unsigned char shift;
    unsigned short offset;  /* from the base */
    unsigned int mask;
} clua_direct_field;

/* One Lua-visible field name, from Swift's table (PacketFields.swift). */
typedef struct clua_field_name {
    int layer;              /* a layer number (below the request's layer_count) */
    int field;              /* id < CLUA_MAX_FIELDS */
    const char *name;       /* NUL-terminated, static */
    clua_field_kind kind;
    int readable;           /* pkt.<layer>.<name> */
    int settable;           /* tapir.build.<layer>{<name> = ...}, pkt:reply{<layer> = {<name> = ...}} */
    clua_direct_field direct;  /* base NONE: read through Swift */
} clua_field_name;

/* A value given for a settable field, indexed by field id in an array of CLUA_MAX_FIELDS. */
typedef struct clua_set_value {
    int present;
    lua_Integer integer;    /* INTEGER, BOOLEAN (0/1), TCP_FLAGS */
    uint8_t address[16];    /* MAC (6), IPV4 (4), IPV6 (16), network order */
    const char *bytes;      /* BYTES: valid during the callback */
    size_t length;
} clua_set_value;

/* A set value's address bytes, for Swift (as clua_packet_frame below). */
static inline const uint8_t *clua_set_value_address(const clua_set_value *value) { return value->address; }

/* A packet: the userdata block. Swift binds and unbinds it with plain writes. */
typedef struct clua_packet {
    const uint8_t *bytes;
    size_t length;
    int64_t device;
    uint16_t layers;        /* Layers.rawValue */
    uint32_t network_offset;   /* where the direct fields' bases are (DecodedFrame's) */
    uint32_t transport_offset;
    int bound;              /* 0: used after its handler returned */
    int is_copy;            /* owns its bytes (they follow this struct) */
    int reference;          /* registry reference of the reused packet (LUA_NOREF for copies) */
    int live;               /* the reused packet wears a live metatable (clua_packet.c) */
    uint16_t live_layers;   /* ... made for these layers */
    struct clua_packet_api *api;
    /* A Swift DecodedFrame. 8-byte aligned, no more: Lua userdata blocks are only 8-byte
       aligned, and a 16-aligned struct lets the optimizer use aligned SSE stores (a crash). */
    _Alignas(8) unsigned char frame[CLUA_FRAME_STORAGE];
} clua_packet;

/* Where a packet keeps its Swift DecodedFrame: a plain address computation (Swift's
   MemoryLayout.offset(of:) takes a key path, resolved at run time, on every call). */
static inline const void *clua_packet_frame(const clua_packet *packet) { return packet->frame; }

/* Callbacks into Swift: plain values in and out, no Lua. Errors are written into
   `error` (CLUA_ERROR_CAPACITY, NUL-terminated) and C raises them. */
typedef struct clua_packet_callbacks {
    void *context;
    /* Reads one field of a bound packet (field's layer present or not: NIL if absent). */
    void (*read_field)(void *context, const clua_packet *packet, int field, clua_field_value *out);
    /* Writes a one-line summary; returns its length (<= capacity). */
    size_t (*summary)(void *context, const clua_packet *packet, char *buffer, size_t capacity);
    /* A string given for a MAC, IPV4, IPV6 or TCP_FLAGS field (kind: a clua_field_kind):
       1 after filling out->address (an address in its text form, or exactly its 6, 4 or
       16 raw bytes) or out->integer (tcpdump letters), 0 when the text is not one. */
    int (*parse)(void *context, int kind, const char *text, size_t length, clua_set_value *out);
    /* The text of an address read as CLUA_VALUE_ADDRESS (length 6, 4 or 16 bytes) into
       text (capacity CLUA_TEXT_CAPACITY); returns its length. */
    size_t (*format_address)(void *context, const uint8_t *bytes, size_t length, char *text);
    /* tapir.build.<layer>{...}: 0 and the bytes (valid until the next call), or -1 and error. */
    int (*build)(void *context, int layer, const clua_set_value *values,
                 const uint8_t **bytes, size_t *length, char *error);
    /* pkt:reply{...}: values hold every layer's overrides (field ids are unique); the
       payload is values[payload_field]; set_fields lists the set_count ids given. Same
       return as build. */
    int (*reply)(void *context, const clua_packet *packet, const clua_set_value *values,
                 const int *set_fields, int set_count, const uint8_t **bytes, size_t *length,
                 char *error);
} clua_packet_callbacks;

/* What clua_packet_install needs and gives back. */
typedef struct clua_packet_install_request {
    clua_packet_callbacks callbacks;
    /* The layers by number: layer_names[n] names layer n (NUL-terminated, copied). Every
       layer but frame_layer (every frame's: pkt.payload, pkt.malformed) is a key of the
       packet (pkt.ip) and a builder (tapir.build.ip). */
    const char *const *layer_names;
    int layer_count;        /* 1...CLUA_MAX_LAYERS */
    int frame_layer;
    const clua_field_name *names;
    int name_count;
    int payload_field;      /* the field id of `payload` (frame layer) */
    int malformed_field;    /* the field id of `malformed` (frame layer) */
    /* Out: the reused packet (its block lives as long as the state). */
    clua_packet *packet;
    struct clua_packet_api *api;
} clua_packet_install_request;

/*
 * Installs the packet metatables, the field-name tables and tapir.build, and makes the
 * reused packet. A clua_protected_body (context: a clua_packet_install_request): run it
 * with clua_run_protected.
 */
void clua_packet_install(lua_State *L, void *request);

/* Binding the reused packet (plain writes, no Lua; safe between calls). */
void clua_packet_bind(clua_packet *packet, const uint8_t *bytes, size_t length, uint16_t layers,
                      size_t network_offset, size_t transport_offset,
                      const void *frame, size_t frame_size, int64_t device);
void clua_packet_unbind(clua_packet *packet);

/* A clua_argument PUSHER: pushes the reused packet (pointer: its clua_packet). */
void clua_packet_push(lua_State *L, const void *packet);

/* Clears the Swift context (the Swift side is gone): later calls raise instead. */
void clua_packet_api_detach(struct clua_packet_api *api);

/*
 * For C functions of the host (dev:write): the bytes of a string or a packet at index.
 * Returns 1 and sets bytes/length (valid while the value is on the stack), or 0 for other
 * types. Raises the use-after-handler error for an unbound packet.
 */
int clua_to_bytes(lua_State *L, int index, const uint8_t **bytes, size_t *length);

/* Private to CLua (clua_packet.c, clua_build.c): the per-state packet API, a userdata. */
typedef struct clua_packet_api {
    clua_packet_callbacks callbacks;
    int payload_field;
    int malformed_field;
    int self_reference;         /* keeps this block alive */
    int layer_count;
    int frame_layer;
    const char *layer_names[CLUA_MAX_LAYERS];  /* Lua strings kept by layer_name_strings */
    int layer_name_strings;     /* registry ref: {[layer + 1] = name} */
    int name_tables;            /* registry ref: {[layer] = {name = field id}} */
    int packet_keys;            /* registry ref: {eth = 1, ..., payload = -1, copy = fn, ...} */
    const char *reply_key;      /* the interned "reply", a key of packet_keys */
    unsigned char kinds[CLUA_MAX_FIELDS];
    unsigned char readable[CLUA_MAX_FIELDS];
    unsigned char settable[CLUA_MAX_FIELDS];
    const char *field_names[CLUA_MAX_FIELDS];
    clua_direct_field direct[CLUA_MAX_FIELDS];
    /* Each layer's field ids and the Lua strings of their names (interned: a key given
       in Lua is the same string, so a field is found by comparing pointers). */
    unsigned char layer_field_count[CLUA_MAX_LAYERS];
    unsigned char layer_fields[CLUA_MAX_LAYERS][CLUA_MAX_FIELDS];
    const char *field_keys[CLUA_MAX_FIELDS];
    /* The same, hashed by the key's address: field id + 1, 0 for none, FIELD_SLOT_SHARED
       when two keys share the slot (then the list above is searched). */
    unsigned char field_slots[CLUA_MAX_LAYERS][CLUA_FIELD_SLOTS];
    /* The reused packet's live metatables, one per set of layers met: the sets (a
       frame's layers mask), their registry refs (0: a free slot), and the metatable of
       their tables of keys. The state's main thread, for unbind. */
    uint16_t live_masks[CLUA_LIVE_METATABLES];
    int live_refs[CLUA_LIVE_METATABLES];
    int live_keys_metatable;
    /* The last set of layers looked up and its slot (-1: none), so a handler that reads no
       field does not search the slots again at every call: valid when live_looked_up. */
    uint16_t live_last_layers;
    int live_last_slot;
    int live_looked_up;
    lua_State *L;
    /* The address cache's keys: a slot's length (0: empty) and bytes; its text is at
       [slot + 1] of the cache table. */
    uint8_t address_lengths[CLUA_ADDRESS_CACHE_SLOTS];
    uint8_t address_bytes[CLUA_ADDRESS_CACHE_SLOTS][16];
    /* Scratch for builders and reply: values by field id, and which ids to clear. */
    clua_set_value values[CLUA_MAX_FIELDS];
    int touched[CLUA_MAX_FIELDS];
    int touched_count;
} clua_packet_api;

void clua_build_install(lua_State *L, clua_packet_api *api);
int clua_packet_reply_method(lua_State *L);
clua_packet *clua_packet_check_bound(lua_State *L, int index);

#endif
