// Values crossing between the host and Lua, one way for both directions: the encoded
// form (CLua.h, "Encoded values"), pushed into a state (host data: tapir.stats, devices,
// tapir.config) and read out of one (a pack's manifest); and a value's text as tostring
// shows it.
#include <string.h>
#include "clua_internal.h"

#define ENCODED_MAX_DEPTH 32

/* ---- The host's text of a value ---- */

typedef struct text_request {
    int reference;
    const char *text;
    size_t length;
} text_request;

static int to_text(lua_State *L) {
    text_request *request = clua_protected_userdata(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, request->reference);
    request->text = luaL_tolstring(L, -1, &request->length);  /* stays on the stack */
    return 1;
}

int clua_reference_text(clua_host *host, int reference, const char **text, size_t *length,
                        clua_result *result) {
    text_request request = { reference, NULL, 0 };
    int status = clua_protected(host, to_text, &request, 1, result);
    *text = request.text;
    *length = request.length;
    return status;
}

/* ---- Encoded values, host -> Lua ---- */

static const uint8_t *push_value(lua_State *L, const uint8_t *p, const uint8_t *end, int depth);

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const uint8_t *need(lua_State *L, const uint8_t *p, const uint8_t *end, size_t count) {
    if ((size_t)(end - p) < count) luaL_error(L, "tapir: malformed encoded value from the host");
    return p;
}

static const uint8_t *push_value(lua_State *L, const uint8_t *p, const uint8_t *end, int depth) {
    if (depth > ENCODED_MAX_DEPTH) luaL_error(L, "tapir: encoded value nested too deeply");
    luaL_checkstack(L, 3, "encoded value");
    need(L, p, end, 1);
    switch (*p++) {
    case 'n': lua_pushnil(L); return p;
    case 't': lua_pushboolean(L, 1); return p;
    case 'f': lua_pushboolean(L, 0); return p;
    case 'i': {
        need(L, p, end, 8);
        uint64_t value = 0;
        for (int i = 7; i >= 0; i--) value = value << 8 | p[i];
        lua_pushinteger(L, (lua_Integer)value);
        return p + 8;
    }
    case 'd': {
        need(L, p, end, 8);
        double value;
        memcpy(&value, p, 8);
        lua_pushnumber(L, value);
        return p + 8;
    }
    case 's': {
        need(L, p, end, 4);
        uint32_t length = read_u32(p);
        p += 4;
        need(L, p, end, length);
        lua_pushlstring(L, (const char *)p, length);
        return p + length;
    }
    case '{': {
        need(L, p, end, 4);
        uint32_t pairs = read_u32(p);
        p += 4;
        lua_createtable(L, 0, pairs < 64 ? (int)pairs : 64);  /* stack: table */
        for (uint32_t i = 0; i < pairs; i++) {
            p = push_value(L, p, end, depth + 1);  /* stack: table, key */
            p = push_value(L, p, end, depth + 1);  /* stack: table, key, value */
            if (lua_isnil(L, -2)) lua_pop(L, 2);
            else lua_rawset(L, -3);
        }
        return p;
    }
    default:  /* 'x' (a value of another type) only goes from Lua to the host */
        return luaL_error(L, "tapir: malformed encoded value from the host"), p;
    }
}

void clua_push_encoded(lua_State *L, const uint8_t *data, size_t length) {
    const uint8_t *end = push_value(L, data, data + length, 0);
    if (end != data + length) luaL_error(L, "tapir: trailing bytes in an encoded value");
}

typedef struct field_request {
    const char *name;
    const uint8_t *data;
    size_t length;
} field_request;

static int set_tapir_field(lua_State *L) {
    field_request *request = clua_protected_userdata(L);
    lua_getglobal(L, "tapir");
    if (!lua_istable(L, -1)) return luaL_error(L, "tapir table missing");
    clua_push_encoded(L, request->data, request->length);
    lua_setfield(L, -2, request->name);
    return 0;
}

int clua_set_tapir_field(clua_host *host, const char *name, const uint8_t *data, size_t length,
                         clua_result *result) {
    field_request request = { name, data, length };
    return clua_protected(host, set_tapir_field, &request, 0, result);
}

/* ---- Encoded values, Lua -> host ---- */

/* The bytes written so far, in a userdata at a fixed stack slot (replaced by a larger
   one as it grows), so the walk may use the stack freely and a raise leaks nothing. */
typedef struct encoder {
    int slot;
    uint8_t *bytes;
    size_t length;
    size_t capacity;
} encoder;

static void reserve(lua_State *L, encoder *out, size_t count) {
    if (out->capacity - out->length >= count) return;
    size_t capacity = out->capacity * 2;
    while (capacity - out->length < count) capacity *= 2;
    uint8_t *bytes = lua_newuserdatauv(L, capacity, 0);
    memcpy(bytes, out->bytes, out->length);
    lua_replace(L, out->slot);
    out->bytes = bytes;
    out->capacity = capacity;
}

static void put(lua_State *L, encoder *out, const void *bytes, size_t count) {
    reserve(L, out, count);
    memcpy(out->bytes + out->length, bytes, count);
    out->length += count;
}

static void put_u32_at(encoder *out, size_t offset, uint32_t value) {
    for (int i = 0; i < 4; i++) out->bytes[offset + (size_t)i] = (uint8_t)(value >> (8 * i));
}

static void put_u32(lua_State *L, encoder *out, uint32_t value) {
    reserve(L, out, 4);
    put_u32_at(out, out->length, value);
    out->length += 4;
}

static void put_string(lua_State *L, encoder *out, char kind, const char *text, size_t length) {
    if (length > UINT32_MAX) luaL_error(L, "a string of %I bytes cannot be handed to the host",
                                        (LUAI_UACINT)length);
    put(L, out, &kind, 1);
    put_u32(L, out, (uint32_t)length);
    put(L, out, text, length);
}

/* Encodes the value at `index` (an absolute index). */
static void encode_value(lua_State *L, encoder *out, int index, int depth) {
    switch (lua_type(L, index)) {
    case LUA_TNIL: put(L, out, "n", 1); return;
    case LUA_TBOOLEAN: put(L, out, lua_toboolean(L, index) ? "t" : "f", 1); return;
    case LUA_TNUMBER:
        if (lua_isinteger(L, index)) {
            uint64_t value = (uint64_t)lua_tointeger(L, index);
            uint8_t bytes[9] = { 'i' };
            for (int i = 0; i < 8; i++) bytes[1 + i] = (uint8_t)(value >> (8 * i));
            put(L, out, bytes, sizeof bytes);
        } else {
            double value = (double)lua_tonumber(L, index);
            put(L, out, "d", 1);
            put(L, out, &value, 8);
        }
        return;
    case LUA_TSTRING: {
        size_t length = 0;
        const char *text = lua_tolstring(L, index, &length);
        put_string(L, out, 's', text, length);
        return;
    }
    case LUA_TTABLE: {
        if (depth >= ENCODED_MAX_DEPTH)
            luaL_error(L, "a table nested more than %d deep (or holding itself) cannot be handed "
                       "to the host", ENCODED_MAX_DEPTH);
        luaL_checkstack(L, 4, "encoded value");
        put(L, out, "{", 1);
        size_t count_at = out->length;
        put_u32(L, out, 0);
        uint32_t pairs = 0;
        lua_pushnil(L);  /* stack: ..., key */
        while (lua_next(L, index) != 0) {  /* stack: ..., key, value */
            int top = lua_gettop(L);
            encode_value(L, out, top - 1, depth + 1);
            encode_value(L, out, top, depth + 1);
            pairs++;
            lua_pop(L, 1);
        }
        put_u32_at(out, count_at, pairs);
        return;
    }
    default: {  /* a function, userdata, thread: its type name */
        const char *name = luaL_typename(L, index);
        put_string(L, out, 'x', name, strlen(name));
        return;
    }
    }
}

typedef struct encode_request {
    int reference;
    const uint8_t *data;
    size_t length;
} encode_request;

static int encode_reference(lua_State *L) {
    encode_request *request = clua_protected_userdata(L);
    encoder out = { 0, NULL, 0, 256 };
    out.bytes = lua_newuserdatauv(L, out.capacity, 0);  /* stays on the stack */
    out.slot = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, request->reference);
    encode_value(L, &out, lua_gettop(L), 0);
    lua_pop(L, 1);
    request->data = out.bytes;
    request->length = out.length;
    return 1;
}

int clua_encode_reference(clua_host *host, int reference, const uint8_t **data, size_t *length,
                          clua_result *result) {
    encode_request request = { reference, NULL, 0 };
    int status = clua_protected(host, encode_reference, &request, 1, result);
    *data = request.data;
    *length = request.length;
    return status;
}
