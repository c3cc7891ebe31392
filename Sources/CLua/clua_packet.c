// The packet object: one userdata per state, bound by Swift to each frame before its
// handlers run and unbound after, so a packet costs no allocation. `pkt.ip` is a layer
// proxy made once per packet object and kept in its uservalues; the proxy's __index maps
// the key to a field id (a table of interned names) and asks Swift for the value through
// one callback that fills a plain struct, which C pushes. While bound, the packet wears a
// live metatable whose __index is a table holding its present layers and its methods, so
// `pkt.ip` and `pkt.reply` are found by Lua without a call into C (see "Live metatables").
#include <string.h>
#include "clua_internal.h"

#define PACKET_METATABLE "tapir.packet"
#define LAYER_METATABLE "tapir.layer"
#define STALE_MESSAGE "packet used after its handler returned (use pkt:copy())"

/* Packet-level keys that are not layers (values in the packet keys table). */
enum { KEY_PAYLOAD = -1, KEY_LAYERS = -2, KEY_MALFORMED = -3 };

/* In api->field_slots: two of a layer's keys hash to the slot (a field id + 1 is less). */
#define FIELD_SLOT_SHARED 255
_Static_assert(CLUA_MAX_FIELDS < FIELD_SLOT_SHARED, "a field id + 1 must fit below FIELD_SLOT_SHARED");
_Static_assert(CLUA_FIELD_SLOTS == 256, "field_slot gives 8 bits");

/* A layer proxy: which packet, which layer. Uservalue 1 keeps the packet alive. */
typedef struct layer_proxy {
    clua_packet *packet;
    int layer;
} layer_proxy;

clua_packet *clua_packet_check_bound(lua_State *L, int index) {
    clua_host *host = clua_host_of(L);
    clua_packet *packet = lua_touserdata(L, index);
    /* The handlers' packet is one block per state: known by its address, no metatable look. */
    if (packet == NULL || packet != host->reused_packet)
        packet = clua_check_udata(L, index, host->packet_metatable_ref, PACKET_METATABLE);
    if (!packet->bound) luaL_error(L, STALE_MESSAGE);
    return packet;
}

static void push_bytes(lua_State *L, const clua_packet *packet, size_t offset, size_t length) {
    if (offset > packet->length || length > packet->length - offset) {
        lua_pushnil(L);
        return;
    }
    lua_pushlstring(L, (const char *)packet->bytes + offset, length);
}

/* Pushes the text of the address value->address[0..<length], from the cache table at
   `cache` when it was pushed before, else formatted by Swift and kept there (cache 0:
   not kept). */
static void push_address(lua_State *L, clua_packet_api *api, const clua_field_value *value, int cache) {
    size_t length = value->length <= sizeof value->address ? value->length : sizeof value->address;
    uint32_t hash = 2166136261u;
    for (size_t i = 0; i < length; i++) hash = (hash ^ value->address[i]) * 16777619u;
    int slot = (int)((hash ^ (hash >> 16)) % CLUA_ADDRESS_CACHE_SLOTS);
    if (cache != 0 && api->address_lengths[slot] == length
        && memcmp(api->address_bytes[slot], value->address, length) == 0) {
        if (lua_rawgeti(L, cache, slot + 1) == LUA_TSTRING) return;
        lua_pop(L, 1);
    }
    char text[CLUA_TEXT_CAPACITY];
    size_t text_length = api->callbacks.format_address(api->callbacks.context, value->address, length, text);
    lua_pushlstring(L, text, text_length < sizeof text ? text_length : sizeof text);
    if (cache == 0) return;
    lua_pushvalue(L, -1);
    lua_rawseti(L, cache, slot + 1);
    api->address_lengths[slot] = (uint8_t)length;
    memcpy(api->address_bytes[slot], value->address, length);
}

static void push_value(lua_State *L, const clua_packet *packet, const clua_field_value *value, int cache) {
    switch (value->kind) {
    case CLUA_VALUE_INTEGER: lua_pushinteger(L, value->integer); break;
    case CLUA_VALUE_BOOLEAN: lua_pushboolean(L, value->integer != 0); break;
    case CLUA_VALUE_TEXT:
        lua_pushlstring(L, value->text,
                        value->length < CLUA_TEXT_CAPACITY ? value->length : CLUA_TEXT_CAPACITY);
        break;
    case CLUA_VALUE_BYTES: push_bytes(L, packet, value->offset, value->length); break;
    case CLUA_VALUE_ADDRESS: push_address(L, packet->api, value, cache); break;
    default: lua_pushnil(L); break;
    }
}

/* Reads one field through Swift and pushes it (addresses through the cache table at
   `cache`, 0 for none). */
static void push_field(lua_State *L, clua_packet *packet, int field, int cache) {
    clua_packet_api *api = packet->api;
    if (api->callbacks.read_field == NULL || api->callbacks.context == NULL)
        luaL_error(L, "the packet API of this state is gone");
    clua_field_value value;
    value.kind = CLUA_VALUE_NIL;
    value.length = 0;
    api->callbacks.read_field(api->callbacks.context, packet, field, &value);
    push_value(L, packet, &value, cache);
}

/* Pushes `field` read by C from the packet's bytes (clua_direct_field); 0, pushing
   nothing, when the field is not one C reads or its bytes are not all there (then Swift
   reads it, and says what it finds). */
static int push_direct(lua_State *L, const clua_packet *packet, int field, int cache) {
    clua_packet_api *api = packet->api;
    const clua_direct_field *direct = &api->direct[field];
    size_t base;
    switch (direct->base) {
    case CLUA_BASE_FRAME: base = 0; break;
    case CLUA_BASE_NETWORK: base = packet->network_offset; break;
    case CLUA_BASE_TRANSPORT: base = packet->transport_offset; break;
    default: return 0;
    }
    size_t at = base + direct->offset;
    if (at > packet->length || direct->width > packet->length - at) return 0;
    const uint8_t *bytes = packet->bytes + at;
    switch (api->kinds[field]) {
    case CLUA_FIELD_MAC:
    case CLUA_FIELD_IPV4:
    case CLUA_FIELD_IPV6: {
        clua_field_value value;
        value.kind = CLUA_VALUE_ADDRESS;
        value.length = direct->width;
        memcpy(value.address, bytes, direct->width);
        push_address(L, api, &value, cache);
        return 1;
    }
    default: {
        uint32_t number = 0;
        for (int i = 0; i < direct->width; i++) number = number << 8 | bytes[i];
        number = (number >> direct->shift) & direct->mask;
        if (api->kinds[field] == CLUA_FIELD_BOOLEAN) lua_pushboolean(L, number != 0);
        else lua_pushinteger(L, (lua_Integer)number);
        return 1;
    }
    }
}

/* "eth:vlan:ip:udp": the layers present, without "frame". */
static void push_layers(lua_State *L, const clua_packet *packet) {
    const clua_packet_api *api = packet->api;
    char text[CLUA_TEXT_CAPACITY];
    size_t length = 0;
    for (int layer = 0; layer < api->layer_count; layer++) {
        if (layer == api->frame_layer || !(packet->layers & (1u << layer))) continue;
        size_t name_length = strlen(api->layer_names[layer]);
        if (length + name_length + 1 >= sizeof text) break;
        if (length > 0) text[length++] = ':';
        memcpy(text + length, api->layer_names[layer], name_length);
        length += name_length;
    }
    lua_pushlstring(L, text, length);
}

/* The cached proxy of `layer` for the packet at index 1, made on first use. */
static void push_layer_proxy(lua_State *L, clua_packet *packet, int layer) {
    if (lua_getiuservalue(L, 1, layer) == LUA_TUSERDATA) return;
    lua_pop(L, 1);
    layer_proxy *proxy = lua_newuserdatauv(L, sizeof *proxy, 1);
    proxy->packet = packet;
    proxy->layer = layer;
    luaL_setmetatable(L, LAYER_METATABLE);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);
    lua_pushvalue(L, -1);
    lua_setiuservalue(L, 1, layer);
    clua_host *host = clua_host_of(L);
    if (packet == host->reused_packet) host->layer_proxy_blocks[layer] = proxy;
}

/* The layer proxy at `index`: one of the reused packet's (known by address: a userdata
   of a proxy's size is read as one, and is one if the address is listed for its layer),
   or checked. */
static layer_proxy *check_layer_proxy(lua_State *L, int index) {
    clua_host *host = clua_host_of(L);
    layer_proxy *proxy = lua_touserdata(L, index);
    if (proxy != NULL && lua_rawlen(L, index) == sizeof *proxy && proxy->layer >= 0
        && proxy->layer < CLUA_MAX_LAYERS && host->layer_proxy_blocks[proxy->layer] == proxy)
        return proxy;
    return clua_check_udata(L, index, host->layer_metatable_ref, LAYER_METATABLE);
}

static void wear_live_metatable(lua_State *L, clua_packet *packet);

/* The layer a packet key names (by the address of its interned string, as field_by_key
   finds a field: no table lookup), or -1; the frame layer is not a key. */
static int layer_of_key(const clua_packet_api *api, const char *key) {
    for (int layer = 0; layer < api->layer_count; layer++)
        if (api->layer_names[layer] == key && layer != api->frame_layer) return layer;
    return -1;
}

/* pkt.<key> */
static int packet_index(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    const clua_packet_api *api = packet->api;
    if (!packet->live && packet == clua_host_of(L)->reused_packet) wear_live_metatable(L, packet);
    /* The most frequent keys, a layer and `reply`, by the address of their interned names:
       no table lookup. */
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *key = lua_tostring(L, 2);
        if (key == api->reply_key) {
            lua_pushcfunction(L, clua_packet_reply_method);
            return 1;
        }
        int layer = layer_of_key(api, key);
        if (layer >= 0) {
            if (packet->layers & (1u << layer)) push_layer_proxy(L, packet, layer);
            else lua_pushnil(L);
            return 1;
        }
    }
    lua_pushvalue(L, 2);
    int type = lua_rawget(L, lua_upvalueindex(1));  /* the packet keys table */
    if (type == LUA_TFUNCTION) return 1;  /* a method */
    if (type != LUA_TNUMBER) {
        if (lua_type(L, 2) == LUA_TSTRING)
            return luaL_error(L, "packet has no field '%s'", lua_tostring(L, 2));
        return luaL_error(L, "packet fields are named by strings, got %s", luaL_typename(L, 2));
    }
    int key = (int)lua_tointeger(L, -1);
    switch (key) {
    case KEY_PAYLOAD: push_field(L, packet, packet->api->payload_field, 0); return 1;
    case KEY_MALFORMED: push_field(L, packet, packet->api->malformed_field, 0); return 1;
    case KEY_LAYERS: push_layers(L, packet); return 1;
    default: break;
    }
    if (key < 0 || key >= packet->api->layer_count || !(packet->layers & (1u << key))) {
        lua_pushnil(L);
        return 1;
    }
    push_layer_proxy(L, packet, key);
    return 1;
}

static int packet_len(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    lua_pushinteger(L, (lua_Integer)packet->length);
    return 1;
}

static int packet_tostring(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    clua_packet_api *api = packet->api;
    if (api->callbacks.summary == NULL || api->callbacks.context == NULL)
        return luaL_error(L, "the packet API of this state is gone");
    char text[CLUA_SUMMARY_CAPACITY];
    size_t length = api->callbacks.summary(api->callbacks.context, packet, text, sizeof text);
    lua_pushlstring(L, text, length < sizeof text ? length : sizeof text);
    return 1;
}

static int read_only(lua_State *L) {
    return luaL_error(L, "packets are read-only (build a new one with tapir.build or pkt:reply)");
}

/* pkt:bytes() */
static int packet_bytes(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    lua_pushlstring(L, (const char *)packet->bytes, packet->length);
    return 1;
}

/* pkt:copy(): a packet that owns its bytes and stays valid. */
static int packet_copy(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    clua_packet *copy = lua_newuserdatauv(L, sizeof *copy + packet->length, packet->api->layer_count);
    memcpy(copy, packet, sizeof *copy);
    uint8_t *bytes = (uint8_t *)(copy + 1);
    if (packet->length > 0) memcpy(bytes, packet->bytes, packet->length);
    copy->bytes = bytes;
    copy->bound = 1;
    copy->is_copy = 1;
    copy->live = 0;
    copy->reference = LUA_NOREF;
    luaL_setmetatable(L, PACKET_METATABLE);
    return 1;
}

/* "ip has no field 'foo' (its fields: version, ihl, ...)", the fields in the order of
   Swift's table (their ids). Stack: ..., the layer's names table (top, left there). */
static int unknown_field(lua_State *L, const clua_packet_api *api, int layer, const char *name) {
    int present[CLUA_MAX_FIELDS] = {0};
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lua_Integer field = lua_tointeger(L, -1);
        if (field >= 0 && field < CLUA_MAX_FIELDS && api->readable[field]) present[field] = 1;
        lua_pop(L, 1);
    }
    luaL_Buffer buffer;
    luaL_buffinit(L, &buffer);
    int count = 0;
    for (int field = 0; field < CLUA_MAX_FIELDS; field++) {
        if (!present[field]) continue;
        if (count++ > 0) luaL_addstring(&buffer, ", ");
        luaL_addstring(&buffer, api->field_names[field]);
    }
    luaL_pushresult(&buffer);
    return luaL_error(L, "%s has no field '%s' (%s%s)", api->layer_names[layer], name,
                      count > 0 ? "its fields: " : "it has none", lua_tostring(L, -1));
}

/* A layer's slot of a key in api->field_slots, from the address of its interned string. */
static int field_slot(const char *key) {
    uint64_t address = (uint64_t)(uintptr_t)key;
    return (int)((address * 0x9e3779b97f4a7c15u) >> 56);  /* Fibonacci hashing: 256 slots */
}

/* The field id of the key at index 2 among the layer's, by the address of its interned
   string (names are short strings: Lua keeps one copy of each); -1 when it is none of
   them (an unknown name or not a string: the names table then says which). */
static int field_by_key(lua_State *L, const clua_packet_api *api, int layer) {
    if (lua_type(L, 2) != LUA_TSTRING) return -1;
    const char *key = lua_tostring(L, 2);
    int slot = api->field_slots[layer][field_slot(key)];
    if (slot == 0) return -1;
    if (slot != FIELD_SLOT_SHARED) return api->field_keys[slot - 1] == key ? slot - 1 : -1;
    int count = api->layer_field_count[layer];
    for (int i = 0; i < count; i++) {
        int field = api->layer_fields[layer][i];
        if (api->field_keys[field] == key) return field;
    }
    return -1;
}

/* proxy.<field> */
static int layer_index(lua_State *L) {
    layer_proxy *proxy = check_layer_proxy(L, 1);
    clua_packet *packet = proxy->packet;
    if (!packet->bound) return luaL_error(L, STALE_MESSAGE);
    int known = field_by_key(L, packet->api, proxy->layer);
    if (known >= 0) {
        if (!(packet->layers & (1u << proxy->layer)) || !packet->api->readable[known]) lua_pushnil(L);
        else if (!push_direct(L, packet, known, lua_upvalueindex(2)))
            push_field(L, packet, known, lua_upvalueindex(2));
        return 1;
    }
    lua_rawgeti(L, lua_upvalueindex(1), proxy->layer);  /* the layer's names table */
    lua_pushvalue(L, 2);
    if (lua_rawget(L, -2) != LUA_TNUMBER) {
        if (lua_type(L, 2) == LUA_TSTRING) {
            lua_pop(L, 1);  /* stack: ..., the layer's names table */
            return unknown_field(L, packet->api, proxy->layer, lua_tostring(L, 2));
        }
        return luaL_error(L, "%s fields are named by strings, got %s",
                          packet->api->layer_names[proxy->layer], luaL_typename(L, 2));
    }
    int field = (int)lua_tointeger(L, -1);
    /* A proxy kept past its packet may meet a frame without its layer. */
    if (!(packet->layers & (1u << proxy->layer)) || field < 0 || field >= CLUA_MAX_FIELDS
        || !packet->api->readable[field]) {
        lua_pushnil(L);
        return 1;
    }
    push_field(L, packet, field, lua_upvalueindex(2));
    return 1;
}

static int layer_tostring(lua_State *L) {
    layer_proxy *proxy = luaL_checkudata(L, 1, LAYER_METATABLE);
    lua_pushfstring(L, "%s layer", proxy->packet->api->layer_names[proxy->layer]);
    return 1;
}

/* --- Live metatables ----------------------------------------------------------------
   The reused packet, while bound, wears a metatable like its own but whose __index is a
   table: the packet's methods and its present layers' proxies. Any other key (an absent
   layer, payload, a name it does not have) misses there and goes to that table's own
   __index, live_fallback, which is packet_index for the reused packet. One such metatable
   is made for each of the first CLUA_LIVE_METATABLES sets of layers met, at the first read
   of a packet of that set (it allocates, so only inside a call); packets of any further
   set read through the packet's own metatable, as before, rather than making and
   dropping metatables as sets come and go. Between packets of the same layers the
   metatable stays on: no Lua work per packet. Before any other Lua code runs (a timer, a
   task, the console: every protected call), or at once when the packet is unbound inside
   a call (the console's next() dispatching a frame), the unbound packet gets its own
   metatable back, so a packet kept past its handler still raises at its first read. */

/* __index of the live metatables' tables of keys (upvalue 1: the packet keys table, as
   packet_index's). */
static int live_fallback(lua_State *L) {
    clua_packet *packet = clua_host_of(L)->reused_packet;
    /* A layer's name missing from the table is an absent layer (the metatable worn is the
       one made for the packet's layers): nil, without packet_index's checks. */
    if (packet->bound && lua_type(L, 2) == LUA_TSTRING) {
        int layer = layer_of_key(packet->api, lua_tostring(L, 2));
        if (layer >= 0 && !(packet->layers & (1u << layer))) {
            lua_pushnil(L);
            return 1;
        }
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, packet->reference);
    lua_replace(L, 1);
    return packet_index(L);
}

/* The slot of the live metatable made for `layers`, or -1. */
static int live_slot(clua_packet_api *api, uint16_t layers) {
    if (api->live_looked_up && api->live_last_layers == layers) return api->live_last_slot;
    int found = -1;
    for (int slot = 0; slot < CLUA_LIVE_METATABLES && found < 0; slot++)
        if (api->live_refs[slot] != 0 && api->live_masks[slot] == layers) found = slot;
    api->live_last_layers = layers;
    api->live_last_slot = found;
    api->live_looked_up = 1;
    return found;
}

/* Copies the fields of the table at the top into the table below it (functions only,
   when `functions_only`). */
static void copy_fields(lua_State *L, int functions_only) {
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {  /* stack: into, from, key, value */
        if (functions_only && lua_type(L, -1) != LUA_TFUNCTION) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -5);
    }
}

/* Makes the live metatable of the bound reused packet at index 1 in a free slot, if one
   is free. */
static void make_live_metatable(lua_State *L, clua_packet *packet) {
    clua_packet_api *api = packet->api;
    int slot;
    for (slot = 0; slot < CLUA_LIVE_METATABLES && api->live_refs[slot] != 0; slot++) {}
    if (slot == CLUA_LIVE_METATABLES) return;
    api->live_looked_up = 0;  /* a set that had no slot may get this one */
    lua_createtable(L, 0, 16);  /* the keys */
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->packet_keys);
    copy_fields(L, 1);
    lua_pop(L, 1);
    for (int layer = 0; layer < api->layer_count; layer++) {
        if (layer == api->frame_layer || !(packet->layers & (1u << layer))) continue;
        push_layer_proxy(L, packet, layer);
        lua_setfield(L, -2, api->layer_names[layer]);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->live_keys_metatable);
    lua_setmetatable(L, -2);
    lua_createtable(L, 0, 8);  /* the metatable: the packet's own, __index the keys */
    lua_rawgeti(L, LUA_REGISTRYINDEX, clua_host_of(L)->packet_metatable_ref);
    copy_fields(L, 0);
    lua_pop(L, 1);
    lua_insert(L, -2);
    lua_setfield(L, -2, "__index");
    api->live_masks[slot] = packet->layers;
    api->live_refs[slot] = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Inside packet_index: the reused packet at index 1 is bound and in its own metatable;
   its set of layers gets a live metatable if a slot is free, and wears it. */
static void wear_live_metatable(lua_State *L, clua_packet *packet) {
    if (live_slot(packet->api, packet->layers) < 0) make_live_metatable(L, packet);
    clua_packet_dress(L, packet, 1);
}

void clua_packet_dress(lua_State *L, clua_packet *packet, int index) {
    if (!packet->bound || (packet->live && packet->live_layers == packet->layers)) return;
    int slot = live_slot(packet->api, packet->layers);
    if (slot >= 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, packet->api->live_refs[slot]);
        packet->live = 1;
        packet->live_layers = packet->layers;
    } else if (packet->live) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, clua_host_of(L)->packet_metatable_ref);
        packet->live = 0;
    } else {
        return;
    }
    lua_setmetatable(L, index < 0 ? index - 1 : index);
}

void clua_packet_wear_own(clua_host *host) {
    clua_packet *packet = host->reused_packet;
    if (packet == NULL || !packet->live || packet->bound || !lua_checkstack(host->L, 2)) return;
    lua_rawgeti(host->L, LUA_REGISTRYINDEX, packet->reference);
    lua_rawgeti(host->L, LUA_REGISTRYINDEX, host->packet_metatable_ref);
    lua_setmetatable(host->L, -2);
    lua_pop(host->L, 1);
    packet->live = 0;
}

/* --- Install ----------------------------------------------------------------------- */

static void make_metatables(lua_State *L) {
    luaL_newmetatable(L, PACKET_METATABLE);  /* __index: set by set_index_functions */
    lua_pushcfunction(L, read_only);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, packet_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, packet_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "packet");
    lua_setfield(L, -2, "__metatable");  /* scripts cannot change or read it */
    clua_keep_metatable(L, &clua_host_of(L)->packet_metatable_ref);
    lua_pop(L, 1);

    luaL_newmetatable(L, LAYER_METATABLE);  /* __index: set by set_index_functions */
    lua_pushcfunction(L, read_only);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, layer_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "packet layer");
    lua_setfield(L, -2, "__metatable");
    clua_keep_metatable(L, &clua_host_of(L)->layer_metatable_ref);
    lua_pop(L, 1);
}

/* The layers' names, copied into Lua strings that a registry table keeps. */
static void take_layer_names(lua_State *L, clua_packet_api *api,
                             const clua_packet_install_request *request) {
    if (request->layer_count < 1 || request->layer_count > CLUA_MAX_LAYERS
        || request->frame_layer < 0 || request->frame_layer >= request->layer_count)
        luaL_error(L, "packet layers out of range (%d layers, frame %d)", request->layer_count,
                   request->frame_layer);
    api->layer_count = request->layer_count;
    api->frame_layer = request->frame_layer;
    lua_createtable(L, request->layer_count, 0);  /* stack: names */
    for (int layer = 0; layer < request->layer_count; layer++) {
        const char *name = request->layer_names[layer];
        if (name == NULL) luaL_error(L, "packet layer %d has no name", layer);
        api->layer_names[layer] = lua_pushstring(L, name);
        lua_rawseti(L, -2, layer + 1);
    }
    api->layer_name_strings = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void make_name_tables(lua_State *L, clua_packet_api *api,
                             const clua_packet_install_request *request) {
    lua_createtable(L, api->layer_count, 0);  /* stack: tables */
    for (int layer = 0; layer < api->layer_count; layer++) {
        lua_newtable(L);
        lua_rawseti(L, -2, layer);
    }
    for (int i = 0; i < request->name_count; i++) {
        const clua_field_name *name = &request->names[i];
        if (name->field < 0 || name->field >= CLUA_MAX_FIELDS || name->layer < 0
            || name->layer >= api->layer_count)
            luaL_error(L, "packet field '%s' out of range", name->name);
        api->kinds[name->field] = (unsigned char)name->kind;
        api->readable[name->field] = (unsigned char)(name->readable != 0);
        api->settable[name->field] = (unsigned char)(name->settable != 0);
        api->field_names[name->field] = name->name;
        const clua_direct_field *direct = &name->direct;
        int address = name->kind == CLUA_FIELD_MAC || name->kind == CLUA_FIELD_IPV4 || name->kind == CLUA_FIELD_IPV6;
        if (direct->base > CLUA_BASE_TRANSPORT
            || (direct->base != CLUA_BASE_NONE
                && (address ? direct->width != 6 && direct->width != 4 && direct->width != 16
                            : (direct->width != 1 && direct->width != 2 && direct->width != 4)
                              || direct->shift >= 32)))
            luaL_error(L, "packet field '%s': direct read out of range", name->name);
        /* push_direct gives an address, an integer or a boolean; any other kind (bytes, TCP
           flags) would come out as an integer. */
        if (direct->base != CLUA_BASE_NONE && !address && name->kind != CLUA_FIELD_INTEGER
            && name->kind != CLUA_FIELD_BOOLEAN)
            luaL_error(L, "packet field '%s': a direct read cannot give its kind (%d)", name->name, (int)name->kind);
        api->direct[name->field] = *direct;
        lua_rawgeti(L, -1, name->layer);  /* stack: tables, the layer's names */
        const char *key = lua_pushstring(L, name->name);
        lua_pushinteger(L, name->field);
        lua_rawset(L, -3);  /* the table keeps the string, so the pointer stays valid */
        lua_pop(L, 1);
        /* Only short strings are interned (one copy each); a longer name is found by the table. */
        if (strlen(name->name) <= 40 && api->layer_field_count[name->layer] < CLUA_MAX_FIELDS) {
            api->field_keys[name->field] = key;
            api->layer_fields[name->layer][api->layer_field_count[name->layer]++] = (unsigned char)name->field;
            unsigned char *slot = &api->field_slots[name->layer][field_slot(key)];
            *slot = *slot == 0 ? (unsigned char)(name->field + 1) : FIELD_SLOT_SHARED;
        }
    }
    api->name_tables = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    for (int layer = 0; layer < api->layer_count; layer++) {
        if (layer == api->frame_layer) continue;
        lua_pushinteger(L, layer);
        lua_setfield(L, -2, api->layer_names[layer]);
    }
    lua_pushinteger(L, KEY_PAYLOAD);
    lua_setfield(L, -2, "payload");
    lua_pushinteger(L, KEY_LAYERS);
    lua_setfield(L, -2, "layers");
    lua_pushinteger(L, KEY_MALFORMED);
    lua_setfield(L, -2, "malformed");
    lua_pushcfunction(L, packet_bytes);
    lua_setfield(L, -2, "bytes");
    lua_pushcfunction(L, packet_copy);
    lua_setfield(L, -2, "copy");
    lua_pushcfunction(L, clua_packet_reply_method);
    lua_setfield(L, -2, "reply");
    api->reply_key = lua_pushliteral(L, "reply");  /* interned; the table's key keeps it */
    lua_pop(L, 1);
    clua_forward_install_methods(L);
    api->packet_keys = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* The __index functions hold their lookup tables as upvalues: no registry lookup per
   field read. */
static void set_index_functions(lua_State *L, clua_packet_api *api) {
    luaL_getmetatable(L, PACKET_METATABLE);
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->packet_keys);
    lua_pushcclosure(L, packet_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);  /* the live metatables' keys tables' metatable */
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->packet_keys);
    lua_pushcclosure(L, live_fallback, 1);
    lua_setfield(L, -2, "__index");
    api->live_keys_metatable = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_getmetatable(L, LAYER_METATABLE);
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->name_tables);
    lua_createtable(L, CLUA_ADDRESS_CACHE_SLOTS, 0);  /* the address cache's texts */
    lua_pushcclosure(L, layer_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
}

void clua_packet_install(lua_State *L, void *context) {
    clua_packet_install_request *request = context;
    /* Once per state: a second install would give the first one's packets the layer
       proxies' __index (and its address cache) of the second. */
    if (clua_host_of(L)->reused_packet != NULL)
        luaL_error(L, "the packet API is installed in this state already");
    make_metatables(L);

    clua_packet_api *api = lua_newuserdatauv(L, sizeof *api, 0);
    memset(api, 0, sizeof *api);
    api->callbacks = request->callbacks;
    api->payload_field = request->payload_field;
    api->malformed_field = request->malformed_field;
    api->layer_name_strings = LUA_NOREF;
    api->name_tables = LUA_NOREF;
    api->packet_keys = LUA_NOREF;
    api->L = clua_host_of(L)->L;
    api->self_reference = luaL_ref(L, LUA_REGISTRYINDEX);
    take_layer_names(L, api, request);
    make_name_tables(L, api, request);
    set_index_functions(L, api);

    clua_packet *packet = lua_newuserdatauv(L, sizeof *packet, api->layer_count);
    memset(packet, 0, sizeof *packet);
    packet->api = api;
    luaL_setmetatable(L, PACKET_METATABLE);
    packet->reference = luaL_ref(L, LUA_REGISTRYINDEX);
    clua_host_of(L)->reused_packet = packet;

    clua_build_install(L, api);

    request->packet = packet;
    request->api = api;
}

/* --- Host entry points ------------------------------------------------------------- */

void clua_packet_bind(clua_packet *packet, const uint8_t *bytes, size_t length, uint16_t layers,
                      size_t network_offset, size_t transport_offset,
                      const void *frame, size_t frame_size, int64_t device) {
    packet->bytes = bytes;
    packet->length = length;
    packet->layers = layers;
    /* Past the frame (a direct read there finds no bytes) if ever out of range. */
    packet->network_offset = network_offset > length ? UINT32_MAX : (uint32_t)network_offset;
    packet->transport_offset = transport_offset > length ? UINT32_MAX : (uint32_t)transport_offset;
    packet->device = device;
    if (frame_size > CLUA_FRAME_STORAGE) frame_size = CLUA_FRAME_STORAGE;
    memcpy(packet->frame, frame, frame_size);
    packet->bound = 1;
}

void clua_packet_unbind(clua_packet *packet) {
    packet->bound = 0;
    packet->bytes = NULL;
    packet->length = 0;
    /* Inside a call, the Lua code that dispatched the frame goes on running: the packet's
       own metatable now, not at the next call. */
    if (packet->live && packet->api != NULL && packet->api->L != NULL) {
        clua_host *host = clua_host_of(packet->api->L);
        if (host->call_depth > 0) clua_packet_wear_own(host);
    }
}

void clua_packet_push(lua_State *L, const void *pointer) {
    clua_packet *packet = (clua_packet *)pointer;
    lua_rawgeti(L, LUA_REGISTRYINDEX, packet->reference);
    clua_packet_dress(L, packet, -1);
}

void clua_packet_api_detach(clua_packet_api *api) {
    api->callbacks.context = NULL;
}

int clua_to_bytes(lua_State *L, int index, const uint8_t **bytes, size_t *length) {
    if (lua_type(L, index) == LUA_TSTRING) {
        *bytes = (const uint8_t *)lua_tolstring(L, index, length);
        return 1;
    }
    clua_packet *packet = lua_touserdata(L, index);
    if (packet == NULL) return 0;
    if (packet != clua_host_of(L)->reused_packet) packet = luaL_testudata(L, index, PACKET_METATABLE);
    if (packet == NULL) return 0;
    if (!packet->bound) return luaL_error(L, STALE_MESSAGE);
    *bytes = packet->bytes;
    *length = packet->length;
    return 1;
}
