// tapir.build.<layer>{...} and pkt:reply{...}: the Lua tables are read here, with raw
// gets, into plain values by field id (checking types and raising Lua errors that name
// the function and the field); Swift writes the bytes into a buffer it reuses, and C
// pushes them as one string.
#include <stdio.h>
#include <string.h>
#include "clua_internal.h"

static void clear_values(clua_packet_api *api) {
    for (int i = 0; i < api->touched_count; i++)
        api->values[api->touched[i]].present = 0;
    api->touched_count = 0;
}

static clua_set_value *take_value(clua_packet_api *api, int field) {
    clua_set_value *value = &api->values[field];
    if (!value->present) api->touched[api->touched_count++] = field;
    memset(value, 0, sizeof *value);
    value->present = 1;
    return value;
}

/* A string given for an address or TCP flags field, parsed by Swift (the one parser of
   these texts); 1 when it was one. */
static int parse_text(clua_packet_api *api, int kind, const char *text, size_t length,
                      clua_set_value *value) {
    if (api->callbacks.parse == NULL) return 0;
    return api->callbacks.parse(api->callbacks.context, kind, text, length, value) == 1;
}

static const char *kind_expectation(int kind) {
    switch (kind) {
    case CLUA_FIELD_INTEGER: return "integer";
    case CLUA_FIELD_BOOLEAN: return "boolean";
    case CLUA_FIELD_MAC: return "MAC address";
    case CLUA_FIELD_IPV4: return "IPv4 address";
    case CLUA_FIELD_IPV6: return "IPv6 address";
    case CLUA_FIELD_BYTES: return "string";
    case CLUA_FIELD_TCP_FLAGS: return "integer or TCP flag letters";
    default: return "value";
    }
}

/* Raises "bad argument #1 to '<function>' (field '<prefix><name>': <kind> expected, got ...)". */
static int field_type_error(lua_State *L, const char *function, const char *prefix,
                            const char *name, int kind, int value_index) {
    const char *expected = kind_expectation(kind);
    if (lua_type(L, value_index) == LUA_TSTRING) {
        size_t length = 0;
        const char *text = lua_tolstring(L, value_index, &length);
        char shown[48];
        size_t count = 0;
        for (size_t i = 0; i < length && count + 4 < sizeof shown; i++)
            shown[count++] = (text[i] >= 32 && text[i] < 127) ? text[i] : '?';
        if (count < length) { shown[count++] = '.'; shown[count++] = '.'; shown[count++] = '.'; }
        shown[count] = '\0';
        return luaL_error(L, "bad argument #1 to '%s' (field '%s%s': %s expected, got '%s')",
                          function, prefix, name, expected, shown);
    }
    return luaL_error(L, "bad argument #1 to '%s' (field '%s%s': %s expected, got %s)",
                      function, prefix, name, expected, luaL_typename(L, value_index));
}

/* Reads the value at the top of the stack for `field`. */
static void read_value(lua_State *L, clua_packet_api *api, int field, const char *function,
                       const char *prefix) {
    int kind = api->kinds[field];
    const char *name = api->field_names[field];
    int type = lua_type(L, -1);
    clua_set_value *value = take_value(api, field);
    switch (kind) {
    case CLUA_FIELD_INTEGER:
    case CLUA_FIELD_TCP_FLAGS: {
        if (type == LUA_TNUMBER) {
            int is_integer = 0;
            value->integer = lua_tointegerx(L, -1, &is_integer);
            if (is_integer) return;
        } else if (type == LUA_TSTRING && kind == CLUA_FIELD_TCP_FLAGS) {
            size_t length = 0;
            const char *text = lua_tolstring(L, -1, &length);
            if (parse_text(api, kind, text, length, value)) return;
        }
        break;
    }
    case CLUA_FIELD_BOOLEAN:
        if (type == LUA_TBOOLEAN) {
            value->integer = lua_toboolean(L, -1);
            return;
        }
        break;
    case CLUA_FIELD_MAC:
    case CLUA_FIELD_IPV4:
    case CLUA_FIELD_IPV6:
        if (type == LUA_TSTRING) {
            size_t length = 0;
            const char *text = lua_tolstring(L, -1, &length);
            if (parse_text(api, kind, text, length, value)) return;
        }
        break;
    case CLUA_FIELD_BYTES:
        if (type == LUA_TSTRING) {
            value->bytes = lua_tolstring(L, -1, &value->length);
            return;
        }
        break;
    }
    field_type_error(L, function, prefix, name, kind, lua_gettop(L));
}

/*
 * Reads the fields table at `table` for `layer` into api->values. `payload` is taken too
 * when allow_payload. The strings read stay valid while the table is on the stack.
 */
static void read_fields(lua_State *L, clua_packet_api *api, int table, int layer,
                        const char *function, const char *prefix, int allow_payload) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, api->name_tables);
    lua_rawgeti(L, -1, layer);
    int names = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, table) != 0) {  /* stack: ..., key, value */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L, "bad argument #1 to '%s' (field names must be strings, got %s)",
                       function, luaL_typename(L, -2));
        const char *key = lua_tostring(L, -2);
        lua_pushvalue(L, -2);
        int field = -1;
        if (lua_rawget(L, names) == LUA_TNUMBER) field = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (field < 0 && allow_payload && strcmp(key, "payload") == 0) field = api->payload_field;
        if (field < 0 || field >= CLUA_MAX_FIELDS)
            luaL_error(L, "bad argument #1 to '%s' (%s has no field '%s%s')", function,
                       api->layer_names[layer], prefix, key);
        if (!api->settable[field])
            luaL_error(L, "bad argument #1 to '%s' (field '%s%s' is computed, it cannot be set)",
                       function, prefix, key);
        read_value(L, api, field, function, prefix);
        lua_pop(L, 1);  /* stack: ..., key */
    }
    lua_pop(L, 2);
}

static clua_packet_api *api_of(lua_State *L, int index) {
    clua_packet_api *api = lua_touserdata(L, index);
    if (api->callbacks.context == NULL) luaL_error(L, "the packet API of this state is gone");
    return api;
}

/* tapir.build.<layer>{...}; upvalues: the api, the layer. */
static int build_layer(lua_State *L) {
    clua_packet_api *api = api_of(L, lua_upvalueindex(1));
    int layer = (int)lua_tointeger(L, lua_upvalueindex(2));
    const char *function = api->layer_names[layer];
    luaL_checktype(L, 1, LUA_TTABLE);
    clear_values(api);
    read_fields(L, api, 1, layer, function, "", 1);
    const uint8_t *bytes = NULL;
    size_t length = 0;
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int status = api->callbacks.build(api->callbacks.context, layer, api->values, &bytes, &length,
                                      error);
    clear_values(api);
    if (status != 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_error(L, "bad argument #1 to '%s' (%s)", function, error);
    }
    lua_pushlstring(L, (const char *)bytes, length);
    return 1;
}

/* pkt:reply([{payload = ..., <layer> = {<field> = ...}, ...}] [, dev]): the bytes, or
   with a device, what writing them there returns (written from the host's buffer: no
   Lua string is made). */
int clua_packet_reply_method(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    clua_packet_api *api = packet->api;
    if (api->callbacks.context == NULL) return luaL_error(L, "the packet API of this state is gone");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    int to_device = !lua_isnoneornil(L, 3);
    if (to_device) clua_check_device(L, 3);  /* before building: a wrong device builds nothing */
    clear_values(api);
    if (lua_istable(L, 2)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, api->packet_keys);
        int keys = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, 2) != 0) {  /* stack: ..., key, value */
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_error(L, "bad argument #1 to 'reply' (keys must be strings, got %s)",
                           luaL_typename(L, -2));
            const char *key = lua_tostring(L, -2);
            if (strcmp(key, "payload") == 0) {
                read_value(L, api, api->payload_field, "reply", "");
            } else {
                lua_pushvalue(L, -2);
                int layer = -1;
                if (lua_rawget(L, keys) == LUA_TNUMBER) layer = (int)lua_tointeger(L, -1);
                lua_pop(L, 1);
                if (layer < 0 || layer >= api->layer_count || layer == api->frame_layer)
                    luaL_error(L, "bad argument #1 to 'reply' (unknown key '%s': expected payload "
                               "or a layer name)", key);
                if (!lua_istable(L, -1))
                    luaL_error(L, "bad argument #1 to 'reply' (field '%s': table expected, got %s)",
                               key, luaL_typename(L, -1));
                char prefix[16];
                snprintf(prefix, sizeof prefix, "%s.", key);
                read_fields(L, api, lua_gettop(L), layer, "reply", prefix, 0);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    const uint8_t *bytes = NULL;
    size_t length = 0;
    char error[CLUA_ERROR_CAPACITY];
    error[0] = '\0';
    int status = api->callbacks.reply(api->callbacks.context, packet, api->values, api->touched,
                                      api->touched_count, &bytes, &length, error);
    clear_values(api);
    if (status != 0) {
        error[CLUA_ERROR_CAPACITY - 1] = '\0';
        return luaL_error(L, "bad argument #1 to 'reply' (%s)", error);
    }
    if (to_device) return clua_device_write(L, 3, bytes, length);
    lua_pushlstring(L, (const char *)bytes, length);
    return 1;
}

/* tapir.build = {eth = ..., ..., tcp = ...} */
void clua_build_install(lua_State *L, clua_packet_api *api) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, "tapir") != LUA_TTABLE) luaL_error(L, "tapir table missing");
    lua_createtable(L, 0, api->layer_count);
    for (int layer = 0; layer < api->layer_count; layer++) {
        if (layer == api->frame_layer) continue;
        lua_pushlightuserdata(L, api);
        lua_pushinteger(L, layer);
        lua_pushcclosure(L, build_layer, 2);
        lua_setfield(L, -2, api->layer_names[layer]);
    }
    lua_setfield(L, -2, "build");
    lua_pop(L, 2);
}
