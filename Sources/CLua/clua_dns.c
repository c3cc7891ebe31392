// The C core of tapir.proto.dns (lua/tapir/proto/dns.lua), preloaded in every state as
// require("tapir.proto.dns_native"): decode(bytes) -> message | false and
// encode(message) -> bytes | false. Each does the whole message or nothing: false says
// "not this one" (bytes that are not a message, a field missing or out of range, a name
// with a backslash escape, a table with a metatable, ...), and dns.lua then runs its own
// Lua code on it, which gives the answer and the reason as it always has. So the C path
// needs no error text of its own, and its results must equal the Lua path's exactly
// (DNSNativeCodecTests and the proto-dns fuzz target compare them).
//
// Positions here are 0-based; dns.lua's are 1-based.
#include "clua_internal.h"

#include <string.h>

enum {
    TYPE_A = 1, TYPE_NS = 2, TYPE_CNAME = 5, TYPE_SOA = 6, TYPE_PTR = 12, TYPE_MX = 15, TYPE_TXT = 16,
    TYPE_AAAA = 28, TYPE_SRV = 33, TYPE_OPT = 41, TYPE_CAA = 257,
    MAX_NAME = 255,
    /* Pointers one name may follow (dns.lua's MAX_POINTERS). */
    MAX_POINTERS = 127,
    /* A name's text: 255 wire bytes, each label byte escaped to at most 4 ("\DDD"). */
    NAME_TEXT_CAPACITY = 4 * MAX_NAME + 8,
};

/* The field names of the message tables, kept as upvalues 2.. of the functions (1 is the
   encoder, the last the fallback): a field is read or set with the interned key at hand,
   no C-string lookup. */
#define DNS_KEYS(X) X(id) X(qr) X(opcode) X(aa) X(tc) X(rd) X(ra) X(ad) X(cd) X(rcode) X(questions) \
    X(answers) X(authority) X(additional) X(edns) X(edns_error) X(name) X(type) X(class) X(ttl) X(address) \
    X(target) X(preference) X(exchange) X(priority) X(weight) X(port) X(mname) X(rname) X(serial) X(refresh) \
    X(retry) X(expire) X(minimum) X(strings) X(flags) X(tag) X(value) X(rdata) X(udp_size) X(extended_rcode) \
    X(version) X(dnssec_ok) X(z) X(options) X(code) X(data)

enum key {
#define KEY_ENUM(name) KEY_##name,
    DNS_KEYS(KEY_ENUM)
#undef KEY_ENUM
    KEY_COUNT
};

static const char *const key_names[KEY_COUNT] = {
#define KEY_NAME(name) #name,
    DNS_KEYS(KEY_NAME)
#undef KEY_NAME
};

#define KEY_INDEX(key) lua_upvalueindex(2 + (int)(key))
/* The Lua function decode or encode hands what it declines to (nil: none, it says false). */
#define FALLBACK_INDEX lua_upvalueindex(2 + KEY_COUNT)

/* Sets field `key` of the table at `table` to the value on top (popped). */
static void set_top(lua_State *L, int table, enum key key) {
    table = lua_absindex(L, table);
    lua_pushvalue(L, KEY_INDEX(key));
    lua_insert(L, -2);
    lua_rawset(L, table);
}

static unsigned read16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static lua_Integer read32(const uint8_t *p) {
    return (lua_Integer)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

/* Decoding ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t n;
} message_bytes;

/* One label byte as dns.lua's escape_label writes it: "\." "\\", "\DDD" for bytes outside
   printable ASCII (space included), the byte itself otherwise. */
static size_t escape_byte(uint8_t c, char *out) {
    if (c == '.' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c <= 32 || c >= 127) {
        out[0] = '\\';
        out[1] = (char)('0' + c / 100);
        out[2] = (char)('0' + c / 10 % 10);
        out[3] = (char)('0' + c % 10);
        return 4;
    }
    out[0] = (char)c;
    return 1;
}

/* dns.lua's read_name: the name at pos as text into text (*text_length), pointers followed,
   each pointing before the one that led to it, at most MAX_POINTERS of them (dns.lua's
   limit); *after is the position after the name.
   0 when the name cannot be read. */
static int read_name(message_bytes m, size_t pos, char *text, size_t *text_length, size_t *after) {
    size_t length = 1, out = 0, limit = pos;
    int jumped = 0, pointers = 0;
    if (pos < m.n && m.p[pos] == 0) {
        *text_length = 0;
        *after = pos + 1;
        return 1;
    }
    for (;;) {
        if (pos >= m.n) return 0;
        unsigned size = m.p[pos];
        if (size == 0) {
            *text_length = out;
            if (!jumped) *after = pos + 1;
            return 1;
        } else if (size >= 0xC0) {
            if (pos + 1 >= m.n) return 0;
            size_t target = (size & 0x3Fu) << 8 | m.p[pos + 1];
            if (target >= limit || ++pointers > MAX_POINTERS) return 0;
            if (!jumped) *after = pos + 2;
            jumped = 1;
            pos = limit = target;
        } else if (size > 63) {
            return 0;
        } else {
            if (pos + 1 + size > m.n) return 0;
            length += size + 1;
            if (length > MAX_NAME) return 0;
            if (out > 0) text[out++] = '.';
            for (size_t i = pos + 1; i <= pos + size; i++) out += escape_byte(m.p[i], text + out);
            pos += 1 + size;
        }
    }
}

/* Sets field `key` of the table on top to the name at pos; 0 when it cannot be read or
   ends past `end`. */
static int set_name(lua_State *L, message_bytes m, size_t pos, size_t end, enum key key, size_t *after) {
    char text[NAME_TEXT_CAPACITY];
    size_t length;
    if (!read_name(m, pos, text, &length, after) || *after > end) return 0;
    lua_pushvalue(L, KEY_INDEX(key));
    lua_pushlstring(L, text, length);
    lua_rawset(L, -3);
    return 1;
}

/* Field `key` of the table on top. */
static void set_integer(lua_State *L, enum key key, lua_Integer value) {
    lua_pushvalue(L, KEY_INDEX(key));
    lua_pushinteger(L, value);
    lua_rawset(L, -3);
}

static void set_bytes(lua_State *L, enum key key, const uint8_t *bytes, size_t length) {
    lua_pushvalue(L, KEY_INDEX(key));
    lua_pushlstring(L, (const char *)bytes, length);
    lua_rawset(L, -3);
}

/* tapir.addr's ipv6_text: RFC 5952, an IPv4-mapped address as ::ffff:a.b.c.d. */
static void push_ipv6_text(lua_State *L, const uint8_t *p) {
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(p, mapped, 12) == 0) {
        lua_pushfstring(L, "::ffff:%d.%d.%d.%d", p[12], p[13], p[14], p[15]);
        return;
    }
    unsigned words[8];
    int best_at = 0, best_length = 0, run_at = 0, run_length = 0;
    for (int i = 0; i < 8; i++) {
        words[i] = read16(p + 2 * i);
        if (words[i] == 0) {
            if (run_length == 0) run_at = i;
            run_length++;
            if (run_length > best_length) {
                best_at = run_at;
                best_length = run_length;
            }
        } else {
            run_length = 0;
        }
    }
    char text[48];
    size_t out = 0;
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        if (best_length >= 2 && i == best_at) {
            text[out++] = ':';
            text[out++] = ':';
            i += best_length - 1;
            continue;
        }
        if (out > 0 && text[out - 1] != ':') text[out++] = ':';
        unsigned word = words[i];
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned digit = word >> shift & 15u;
            if (digit != 0 || started || shift == 0) {
                text[out++] = digits[digit];
                started = 1;
            }
        }
    }
    lua_pushlstring(L, text, out);
}

/* dns.lua's read_rdata on the record table on top: 0 when the data is wrong. */
static int read_rdata(lua_State *L, message_bytes m, unsigned type, size_t at, size_t end) {
    size_t length = end - at, after;
    const uint8_t *p = m.p;
    switch (type) {
    case TYPE_A:
        if (length != 4) return 0;
        lua_pushfstring(L, "%d.%d.%d.%d", p[at], p[at + 1], p[at + 2], p[at + 3]);
        set_top(L, -2, KEY_address);
        return 1;
    case TYPE_AAAA:
        if (length != 16) return 0;
        push_ipv6_text(L, p + at);
        set_top(L, -2, KEY_address);
        return 1;
    case TYPE_NS: case TYPE_CNAME: case TYPE_PTR:
        return set_name(L, m, at, end, KEY_target, &after) && after == end;
    case TYPE_MX:
        if (length < 3) return 0;
        set_integer(L, KEY_preference, read16(p + at));
        return set_name(L, m, at + 2, end, KEY_exchange, &after) && after == end;
    case TYPE_SRV:
        if (length < 7) return 0;
        set_integer(L, KEY_priority, read16(p + at));
        set_integer(L, KEY_weight, read16(p + at + 2));
        set_integer(L, KEY_port, read16(p + at + 4));
        return set_name(L, m, at + 6, end, KEY_target, &after) && after == end;
    case TYPE_SOA: {
        if (!set_name(L, m, at, end, KEY_mname, &after)) return 0;
        if (!set_name(L, m, after, end, KEY_rname, &after)) return 0;
        if (after + 20 != end) return 0;
        static const enum key keys[5] = {KEY_serial, KEY_refresh, KEY_retry, KEY_expire, KEY_minimum};
        for (int i = 0; i < 5; i++) set_integer(L, keys[i], read32(p + after + 4 * i));
        return 1;
    }
    case TYPE_TXT: {
        if (length == 0) return 0;
        lua_createtable(L, 1, 0);
        int count = 0;
        for (size_t pos = at; pos < end;) {
            size_t size = p[pos];
            if (pos + size > end - 1) return 0;
            lua_pushlstring(L, (const char *)p + pos + 1, size);
            lua_rawseti(L, -2, ++count);
            pos += 1 + size;
        }
        set_top(L, -2, KEY_strings);
        return 1;
    }
    case TYPE_CAA: {
        if (length < 2) return 0;
        size_t tag_length = p[at + 1];
        if (tag_length == 0 || 2 + tag_length > length) return 0;
        set_integer(L, KEY_flags, p[at]);
        set_bytes(L, KEY_tag, p + at + 2, tag_length);
        set_bytes(L, KEY_value, p + at + 2 + tag_length, end - (at + 2 + tag_length));
        return 1;
    }
    default:
        set_bytes(L, KEY_rdata, p + at, length);
        return 1;
    }
}

/* dns.lua's read_opt: the OPT record's fields as msg.edns (the table at `message`), or
   the reason it is broken in *edns_error. *edns_count: OPT records read so far. */
static void read_opt(lua_State *L, int message, message_bytes m, int owner_is_root, unsigned udp_size,
                     uint32_t ttl, size_t at, size_t end, int *edns_count, const char **edns_error) {
    if (*edns_count > 0) {
        *edns_error = "a second OPT record";
        return;
    }
    if (!owner_is_root) *edns_error = "an OPT record not owned by the root";
    lua_createtable(L, 0, 6);
    set_integer(L, KEY_udp_size, udp_size);
    set_integer(L, KEY_extended_rcode, ttl >> 24);
    set_integer(L, KEY_version, ttl >> 16 & 0xFF);
    lua_pushboolean(L, (ttl & 0x8000) != 0);
    set_top(L, -2, KEY_dnssec_ok);
    set_integer(L, KEY_z, ttl & 0x7FFF);
    lua_createtable(L, 1, 0);
    int count = 0;
    for (size_t pos = at; pos < end;) {
        if (pos + 3 >= end) {
            *edns_error = "an EDNS option cut short";
            break;
        }
        unsigned code = read16(m.p + pos), size = read16(m.p + pos + 2);
        if (pos + 3 + size > end - 1) {
            *edns_error = "an EDNS option runs past its record";
            break;
        }
        lua_createtable(L, 0, 2);
        set_integer(L, KEY_code, code);
        set_bytes(L, KEY_data, m.p + pos + 4, size);
        lua_rawseti(L, -2, ++count);
        pos += 4 + size;
    }
    set_top(L, -2, KEY_options);
    set_top(L, message, KEY_edns);
    *edns_count += 1;
}

static void set_flag(lua_State *L, enum key key, unsigned flags, unsigned bit) {
    lua_pushvalue(L, KEY_INDEX(key));
    lua_pushboolean(L, (flags & bit) != 0);
    lua_rawset(L, -3);
}

/* What decode and encode do with what they decline (the argument at 1): false, or, with a
   fallback (the bound functions: dns.lua's own), its call's results. */
static int decline(lua_State *L) {
    lua_settop(L, 1);
    if (lua_isnil(L, FALLBACK_INDEX)) {
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_pushvalue(L, FALLBACK_INDEX);
    lua_insert(L, 1);
    lua_call(L, 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* decode(bytes) -> the message table, or false (or the fallback's results). */
static int dns_decode(lua_State *L) {
    size_t n;
    if (lua_type(L, 1) != LUA_TSTRING) return decline(L);
    const uint8_t *p = (const uint8_t *)lua_tolstring(L, 1, &n);
    message_bytes m = {p, n};
    if (n < 12) goto refused;
    unsigned flags = read16(p + 2), counts[4];
    for (int i = 0; i < 4; i++) counts[i] = read16(p + 4 + 2 * i);
    if ((size_t)counts[0] * 5 + ((size_t)counts[1] + counts[2] + counts[3]) * 11 > n - 12) goto refused;

    lua_createtable(L, 0, 16);
    int message = lua_gettop(L);
    set_integer(L, KEY_id, read16(p));
    set_flag(L, KEY_qr, flags, 0x8000);
    set_integer(L, KEY_opcode, flags >> 11 & 0xF);
    set_flag(L, KEY_aa, flags, 0x0400);
    set_flag(L, KEY_tc, flags, 0x0200);
    set_flag(L, KEY_rd, flags, 0x0100);
    set_flag(L, KEY_ra, flags, 0x0080);
    set_flag(L, KEY_ad, flags, 0x0020);
    set_flag(L, KEY_cd, flags, 0x0010);

    size_t pos = 12, after;
    lua_createtable(L, (int)counts[0], 0);
    for (unsigned i = 1; i <= counts[0]; i++) {
        lua_createtable(L, 0, 3);
        if (!set_name(L, m, pos, n, KEY_name, &after) || after + 4 > n) goto refused;
        set_integer(L, KEY_type, read16(p + after));
        set_integer(L, KEY_class, read16(p + after + 2));
        lua_rawseti(L, -2, (lua_Integer)i);
        pos = after + 4;
    }
    set_top(L, message, KEY_questions);

    static const enum key sections[3] = {KEY_answers, KEY_authority, KEY_additional};
    int edns_count = 0;
    const char *edns_error = NULL;
    unsigned extended_rcode = 0;
    for (int s = 0; s < 3; s++) {
        unsigned count = counts[1 + s];
        lua_createtable(L, s == 2 && count > 0 ? (int)count - 1 : (int)count, 0);
        int listed = 0;
        for (unsigned i = 0; i < count; i++) {
            lua_createtable(L, 0, 5);
            if (!set_name(L, m, pos, n, KEY_name, &after) || after + 10 > n) goto refused;
            unsigned type = read16(p + after), class = read16(p + after + 2);
            uint32_t ttl = (uint32_t)read32(p + after + 4);
            size_t at = after + 10, end = at + read16(p + after + 8);
            if (end > n) goto refused;
            if (type == TYPE_OPT && s == 2) {
                lua_pop(L, 1);
                if (edns_count == 0) extended_rcode = ttl >> 24;
                read_opt(L, message, m, after == pos + 1, class, ttl, at, end, &edns_count, &edns_error);
            } else {
                set_integer(L, KEY_type, type);
                set_integer(L, KEY_class, class);
                set_integer(L, KEY_ttl, ttl);
                if (!read_rdata(L, m, type, at, end)) goto refused;
                lua_rawseti(L, -2, ++listed);
            }
            pos = end;
        }
        set_top(L, message, sections[s]);
    }
    set_integer(L, KEY_rcode, (lua_Integer)(edns_count > 0 ? extended_rcode << 4 : 0) | (flags & 0xF));
    if (edns_error != NULL) {
        lua_pushstring(L, edns_error);
        set_top(L, message, KEY_edns_error);
    }
    lua_settop(L, message);
    return 1;
refused:
    return decline(L);
}

/* Encoding ------------------------------------------------------------------------------ */

enum {
    OUT_CAPACITY = 65535,       /* longer messages are left to dns.lua */
    SUFFIX_SLOTS = 1024,        /* a power of two */
    SUFFIX_LIMIT = SUFFIX_SLOTS / 2,
    MAX_LABELS = 128,
};

/* Where each name suffix already written starts (offsets under 0x4000, as dns.lua keeps
   them), found by a hash of its labels in lower case; 0 an empty slot, else offset + 1. */
typedef struct {
    uint8_t out[OUT_CAPACITY];
    size_t length;
    uint32_t slot_hash[SUFFIX_SLOTS];
    uint16_t slot_offset[SUFFIX_SLOTS];
    uint16_t used[SUFFIX_LIMIT];
    int used_count;
    const char *key_text[KEY_COUNT];  /* the upvalue keys' texts (interned: one per state) */
} encoder;

typedef struct {
    const uint8_t *label[MAX_LABELS];
    uint8_t size[MAX_LABELS];
    uint32_t hash[MAX_LABELS];  /* of the suffix from this label on */
    int count;
} name_labels;

static uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c; }

/* dns.labels for a name without backslashes (those are left to dns.lua): 0 when it has an
   empty label, one over 63 bytes or is over 255 bytes as wire. */
static int split_name(const char *text, size_t length, name_labels *name) {
    name->count = 0;
    if (length == 0 || (length == 1 && text[0] == '.')) return 1;
    if (memchr(text, '\\', length) != NULL) return 0;
    if (text[length - 1] == '.') length--;
    size_t wire = 1, start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && text[i] != '.') continue;
        size_t size = i - start;
        if (size == 0 || size > 63 || name->count == MAX_LABELS) return 0;
        name->label[name->count] = (const uint8_t *)text + start;
        name->size[name->count] = (uint8_t)size;
        name->count++;
        wire += size + 1;
        start = i + 1;
    }
    if (wire > MAX_NAME) return 0;
    uint32_t hash = 2166136261u;
    for (int i = name->count - 1; i >= 0; i--) {
        hash = (hash ^ name->size[i]) * 16777619u;
        for (int j = 0; j < name->size[i]; j++) hash = (hash ^ lower(name->label[i][j])) * 16777619u;
        name->hash[i] = hash;
    }
    return 1;
}

/* Whether the labels from `first` on equal, case-blind, the name written at `offset`. */
static int suffix_written_at(const encoder *e, const name_labels *name, int first, size_t offset) {
    int hops = 0;
    for (int i = first;; i++) {
        while (e->out[offset] >= 0xC0) {
            if (++hops > MAX_LABELS) return 0;
            offset = (e->out[offset] & 0x3Fu) << 8 | e->out[offset + 1];
        }
        uint8_t size = e->out[offset];
        if (i == name->count) return size == 0;
        if (size != name->size[i]) return 0;
        for (int j = 0; j < size; j++)
            if (lower(e->out[offset + 1 + j]) != lower(name->label[i][j])) return 0;
        offset += 1 + size;
    }
}

/* The offset + 1 of where the suffix from label `first` was written, or 0. */
static unsigned find_suffix(const encoder *e, const name_labels *name, int first) {
    uint32_t hash = name->hash[first];
    for (uint32_t slot = hash & (SUFFIX_SLOTS - 1);; slot = (slot + 1) & (SUFFIX_SLOTS - 1)) {
        unsigned offset = e->slot_offset[slot];
        if (offset == 0) return 0;
        if (e->slot_hash[slot] == hash && suffix_written_at(e, name, first, offset - 1)) return offset;
    }
}

static int remember_suffix(encoder *e, uint32_t hash, size_t offset) {
    if (e->used_count == SUFFIX_LIMIT) return 0;
    uint32_t slot = hash & (SUFFIX_SLOTS - 1);
    while (e->slot_offset[slot] != 0) slot = (slot + 1) & (SUFFIX_SLOTS - 1);
    e->slot_hash[slot] = hash;
    e->slot_offset[slot] = (uint16_t)(offset + 1);
    e->used[e->used_count++] = (uint16_t)slot;
    return 1;
}

static int put(encoder *e, const void *bytes, size_t length) {
    if (length > OUT_CAPACITY - e->length) return 0;
    memcpy(e->out + e->length, bytes, length);
    e->length += length;
    return 1;
}

static int put16(encoder *e, unsigned value) {
    uint8_t bytes[2] = {(uint8_t)(value >> 8), (uint8_t)value};
    return put(e, bytes, 2);
}

static int put32(encoder *e, uint32_t value) {
    uint8_t bytes[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8), (uint8_t)value};
    return put(e, bytes, 4);
}

/* dns.lua's put_name: the name's labels up to the first suffix already written, then a
   pointer to it (when compressing), else the whole name; the suffixes it newly writes
   below 0x4000 remembered, as dns.lua does even when not compressing. */
static int put_name(encoder *e, const char *text, size_t text_length, int compress) {
    name_labels name;
    if (!split_name(text, text_length, &name)) return 0;
    int first_known = name.count;
    unsigned known_at = 0;
    for (int i = 0; i < name.count; i++) {
        known_at = find_suffix(e, &name, i);
        if (known_at != 0) {
            first_known = i;
            break;
        }
    }
    size_t offset = e->length;
    for (int i = 0; i < first_known; i++) {
        if (offset < 0x4000 && !remember_suffix(e, name.hash[i], offset)) return 0;
        offset += 1 + name.size[i];
    }
    int last = compress && first_known < name.count ? first_known : name.count;
    for (int i = 0; i < last; i++) {
        uint8_t size = name.size[i];
        if (!put(e, &size, 1) || !put(e, name.label[i], size)) return 0;
    }
    if (last < name.count) return put16(e, 0xC000 | (known_at - 1));
    uint8_t root = 0;
    return put(e, &root, 1);
}

/* A field of the table at `table` as Lua reads it (no metatables here: those tables are
   refused); returns its type, the value pushed. */
static int field(lua_State *L, int table, enum key key) {
    lua_pushvalue(L, KEY_INDEX(key));
    return lua_rawget(L, table);
}

/* The integer field `key`, in min..max, into *value: 0 when it is not one (or nil and
   no default: default_value < 0). nil and false read as default_value, as `x or d`. */
static int integer_field(lua_State *L, int table, enum key key, lua_Integer min, lua_Integer max,
                         lua_Integer default_value, int falsy_default, lua_Integer *value) {
    int type = field(L, table, key);
    int ok;
    if ((type == LUA_TNIL || (falsy_default && type == LUA_TBOOLEAN && !lua_toboolean(L, -1))) && default_value >= 0) {
        *value = default_value;
        ok = 1;
    } else {
        ok = lua_isinteger(L, -1);
        if (ok) *value = lua_tointeger(L, -1);
        ok = ok && *value >= min && *value <= max;
    }
    lua_pop(L, 1);
    return ok;
}

/* The string field `key` (a string, not a number), left on the stack; NULL (and nothing
   left) when it is not one. */
static const char *string_field(lua_State *L, int table, enum key key, size_t *length) {
    if (field(L, table, key) != LUA_TSTRING) {
        lua_pop(L, 1);
        return NULL;
    }
    return lua_tolstring(L, -1, length);
}

static int put_name_field(lua_State *L, encoder *e, int table, enum key key, int compress) {
    size_t length;
    const char *text = string_field(L, table, key, &length);
    if (text == NULL) return 0;
    int ok = put_name(e, text, length, compress);
    lua_pop(L, 1);
    return ok;
}

/* A table with no metatable at `index` (so rawget and # are what dns.lua's reads give). */
static int plain_table(lua_State *L, int index) {
    if (lua_type(L, index) != LUA_TTABLE) return 0;
    if (lua_getmetatable(L, index)) {
        lua_pop(L, 1);
        return 0;
    }
    return 1;
}

/* tapir.addr's ipv4_bytes: four groups of 1 to 3 digits, each at most 255. */
static int parse_ipv4(const char *text, size_t length, uint8_t out[4]) {
    size_t i = 0;
    for (int group = 0; group < 4; group++) {
        if (group > 0) {
            if (i >= length || text[i] != '.') return 0;
            i++;
        }
        unsigned value = 0, digits = 0;
        while (i < length && text[i] >= '0' && text[i] <= '9' && digits < 3) {
            value = value * 10 + (unsigned)(text[i] - '0');
            digits++;
            i++;
        }
        if (digits == 0 || value > 255) return 0;
        out[group] = (uint8_t)value;
    }
    return i == length;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* tapir.addr's groups: "" is none, else 1 to 4 hex digits between colons. -1 when not. */
static int parse_groups(const char *text, size_t length, unsigned *words, int capacity) {
    if (length == 0) return 0;
    int count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= length; i++) {
        if (i < length && text[i] != ':') continue;
        size_t size = i - start;
        if (size < 1 || size > 4 || count == capacity) return -1;
        unsigned word = 0;
        for (size_t j = start; j < i; j++) {
            int digit = hex_digit(text[j]);
            if (digit < 0) return -1;
            word = word << 4 | (unsigned)digit;
        }
        words[count++] = word;
        start = i + 1;
    }
    return count;
}

/* tapir.addr's ipv6_bytes, step by step: an IPv4 tail (after the last colon, only digits
   and dots, one dot at least) stands for two groups; one "::" at most. */
static int parse_ipv6(const char *text, size_t length, uint8_t out[16]) {
    if (memchr(text, ':', length) == NULL || length > 64) return 0;
    char copy[72];
    memcpy(copy, text, length);
    uint8_t tail[4];
    int has_tail = 0;
    size_t last_colon = length;
    while (copy[last_colon - 1] != ':') last_colon--;  /* one past the last colon */
    if (last_colon < length) {
        int plain = 1, dotted = 0;
        for (size_t i = last_colon; i < length; i++) {
            if (copy[i] == '.') dotted = 1;
            else if (copy[i] < '0' || copy[i] > '9') plain = 0;
        }
        if (plain && dotted) {
            if (!parse_ipv4(copy + last_colon, length - last_colon, tail)) return 0;
            has_tail = 1;
            memcpy(copy + last_colon, "0:0", 3);
            length = last_colon + 3;
        }
    }
    unsigned words[8], right[8];
    const char *gap = NULL;
    for (size_t i = 0; i + 1 < length; i++)
        if (copy[i] == ':' && copy[i + 1] == ':') {
            gap = copy + i;
            break;
        }
    if (gap != NULL) {
        size_t head = (size_t)(gap - copy), rest = head + 2;
        for (size_t i = rest; i + 1 < length; i++)
            if (copy[i] == ':' && copy[i + 1] == ':') return 0;
        int left_count = parse_groups(copy, head, words, 8);
        int right_count = parse_groups(copy + rest, length - rest, right, 8);
        if (left_count < 0 || right_count < 0 || left_count + right_count > 7) return 0;
        int count = left_count;
        while (count < 8 - right_count) words[count++] = 0;
        for (int i = 0; i < right_count; i++) words[count++] = right[i];
    } else if (parse_groups(copy, length, words, 8) != 8) {
        return 0;
    }
    for (int i = 0; i < 8; i++) {
        out[2 * i] = (uint8_t)(words[i] >> 8);
        out[2 * i + 1] = (uint8_t)words[i];
    }
    if (has_tail) memcpy(out + 12, tail, 4);
    return 1;
}

/* dns.lua's put_rdata for the record at `rr` of type `type`, its length included. */
static int put_rdata(lua_State *L, encoder *e, int rr, lua_Integer type) {
    int top = lua_gettop(L);
    int has_rdata = field(L, rr, KEY_rdata);
    has_rdata = has_rdata != LUA_TNIL && lua_toboolean(L, -1);
    lua_settop(L, top);
    size_t length_at = e->length;
    if (!put16(e, 0)) return 0;
    size_t length = 0;
    int ok = 1;
    if (has_rdata) {
        const char *rdata = string_field(L, rr, KEY_rdata, &length);
        ok = rdata != NULL && put(e, rdata, length);
    } else if (type == TYPE_A || type == TYPE_AAAA) {
        const char *text = string_field(L, rr, KEY_address, &length);
        uint8_t bytes[16];
        ok = text != NULL && (type == TYPE_A ? parse_ipv4(text, length, bytes) : parse_ipv6(text, length, bytes))
             && put(e, bytes, type == TYPE_A ? 4 : 16);
    } else if (type == TYPE_NS || type == TYPE_CNAME || type == TYPE_PTR) {
        ok = put_name_field(L, e, rr, KEY_target, 1);
    } else if (type == TYPE_MX) {
        lua_Integer preference;
        ok = integer_field(L, rr, KEY_preference, 0, 0xFFFF, -1, 0, &preference) && put16(e, (unsigned)preference)
             && put_name_field(L, e, rr, KEY_exchange, 1);
    } else if (type == TYPE_SRV) {
        lua_Integer priority, weight, port;
        ok = integer_field(L, rr, KEY_priority, 0, 0xFFFF, -1, 0, &priority)
             && integer_field(L, rr, KEY_weight, 0, 0xFFFF, -1, 0, &weight)
             && integer_field(L, rr, KEY_port, 0, 0xFFFF, -1, 0, &port)
             && put16(e, (unsigned)priority) && put16(e, (unsigned)weight) && put16(e, (unsigned)port)
             && put_name_field(L, e, rr, KEY_target, 0);
    } else if (type == TYPE_SOA) {
        static const enum key keys[5] = {KEY_serial, KEY_refresh, KEY_retry, KEY_expire, KEY_minimum};
        lua_Integer values[5];
        ok = put_name_field(L, e, rr, KEY_mname, 1) && put_name_field(L, e, rr, KEY_rname, 1);
        for (int i = 0; ok && i < 5; i++) ok = integer_field(L, rr, keys[i], 0, 0xFFFFFFFF, -1, 0, &values[i]);
        for (int i = 0; ok && i < 5; i++) ok = put32(e, (uint32_t)values[i]);
    } else if (type == TYPE_TXT) {
        field(L, rr, KEY_strings);
        ok = plain_table(L, -1) && lua_rawlen(L, -1) > 0;
        for (lua_Integer i = 1; ok && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
            const char *text = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &length) : NULL;
            uint8_t size = (uint8_t)length;
            ok = text != NULL && length <= 255 && put(e, &size, 1) && put(e, text, length);
            lua_pop(L, 1);
        }
    } else if (type == TYPE_CAA) {
        size_t value_length = 0;
        const char *tag = string_field(L, rr, KEY_tag, &length);
        lua_Integer flags = 0;
        const char *value = tag != NULL && length >= 1 && length <= 255
            && integer_field(L, rr, KEY_flags, 0, 255, -1, 0, &flags)
            ? string_field(L, rr, KEY_value, &value_length) : NULL;
        uint8_t head[2] = {(uint8_t)flags, (uint8_t)length};
        ok = value != NULL && put(e, head, 2) && put(e, tag, length) && put(e, value, value_length);
    } else {
        ok = 0;
    }
    lua_settop(L, top);
    size_t data_length = e->length - length_at - 2;
    if (!ok || data_length > 0xFFFF) return 0;
    e->out[length_at] = (uint8_t)(data_length >> 8);
    e->out[length_at + 1] = (uint8_t)data_length;
    return 1;
}

/* dns.lua's put_record (a question when `question`: name, type and class only). */
static int put_entry(lua_State *L, encoder *e, int entry, int question) {
    if (!plain_table(L, entry)) return 0;
    lua_Integer type, class, ttl = 0;
    if (!integer_field(L, entry, KEY_type, 0, 0xFFFF, -1, 0, &type)
        || !integer_field(L, entry, KEY_class, 0, 0xFFFF, 1, 0, &class)
        || (!question && !integer_field(L, entry, KEY_ttl, 0, 0xFFFFFFFF, -1, 0, &ttl)))
        return 0;
    if (!put_name_field(L, e, entry, KEY_name, 1) || !put16(e, (unsigned)type) || !put16(e, (unsigned)class))
        return 0;
    if (question) return 1;
    return put32(e, (uint32_t)ttl) && put_rdata(L, e, entry, type);
}

/* The values of `keys` in the plain table at `table`, read in one pass over it (a message
   has a few of the many fields it may have): pushed in that order, nil for those it
   lacks. Returns the index of the first. */
static int gather(lua_State *L, const encoder *e, int table, const enum key *keys, int count) {
    int first = lua_gettop(L) + 1;
    lua_settop(L, first + count - 1);
    lua_pushnil(L);
    while (lua_next(L, table) != 0) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *name = lua_tostring(L, -2);  /* interned: the key's own text */
            for (int i = 0; i < count; i++)
                if (name == e->key_text[keys[i]]) {
                    lua_copy(L, -1, first + i);
                    break;
                }
        }
        lua_pop(L, 1);
    }
    return first;
}

/* The value at `index` as dns.lua's `value or default`, an integer in min..max: 0 when not. */
static int integer_or(lua_State *L, int index, lua_Integer min, lua_Integer max, lua_Integer default_value,
                      lua_Integer *value) {
    if (!lua_toboolean(L, index)) {
        *value = default_value;
        return 1;
    }
    if (!lua_isinteger(L, index)) return 0;
    *value = lua_tointeger(L, index);
    return *value >= min && *value <= max;
}

/* The list at `index` as dns.lua's `value or {}` (nil and false left as none): 0 when it
   is not a plain table or over 65535 long; its # into *count. */
static int list_at(lua_State *L, int index, size_t *count) {
    *count = 0;
    if (!lua_toboolean(L, index)) {
        lua_pushnil(L);
        lua_replace(L, index);
        return 1;
    }
    if (!plain_table(L, index)) return 0;
    *count = lua_rawlen(L, index);
    return *count <= 0xFFFF;
}

/* The list at `list` (nil: none), entries until the first nil (as ipairs goes). */
static int put_list(lua_State *L, encoder *e, int list, int question) {
    if (lua_isnil(L, list)) return 1;
    for (lua_Integer i = 1; lua_rawgeti(L, list, i) != LUA_TNIL; i++) {
        if (!put_entry(L, e, lua_gettop(L), question)) return 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return 1;
}

/* dns.lua's OPT record, at the end. */
static int put_opt(lua_State *L, encoder *e, int edns, lua_Integer rcode) {
    static const enum key keys[] = {KEY_udp_size, KEY_version, KEY_z, KEY_dnssec_ok, KEY_options};
    int at = gather(L, e, edns, keys, 5);
    lua_Integer size, version, z;
    if (!integer_or(L, at, 0, 0xFFFF, 512, &size)
        || !integer_or(L, at + 1, LUA_MININTEGER, LUA_MAXINTEGER, 0, &version)
        || !integer_or(L, at + 2, LUA_MININTEGER, LUA_MAXINTEGER, 0, &z))
        return 0;
    lua_Unsigned ttl = (lua_Unsigned)(rcode >> 4) << 24 | (lua_Unsigned)version << 16
                       | (lua_toboolean(L, at + 3) ? 0x8000u : 0) | ((lua_Unsigned)z & 0x7FFF);
    if (ttl > 0xFFFFFFFFu) return 0;
    uint8_t head[11] = {0, 0, TYPE_OPT, (uint8_t)(size >> 8), (uint8_t)size, (uint8_t)(ttl >> 24),
                        (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8), (uint8_t)ttl, 0, 0};
    if (!put(e, head, sizeof head)) return 0;
    size_t length_at = e->length - 2;
    int options = at + 4;
    int ok = 1;
    if (lua_toboolean(L, options)) {
        ok = plain_table(L, options);
        if (ok && lua_rawlen(L, options) > 0) {
            for (lua_Integer i = 1; ok && lua_rawgeti(L, options, i) != LUA_TNIL; i++) {
                int option = lua_gettop(L);
                lua_Integer code;
                size_t length;
                const char *data = NULL;
                ok = plain_table(L, option) && integer_field(L, option, KEY_code, 0, 0xFFFF, -1, 0, &code)
                     && (data = string_field(L, option, KEY_data, &length)) != NULL
                     && length <= 0xFFFF && put16(e, (unsigned)code) && put16(e, (unsigned)length)
                     && put(e, data, length);
                lua_settop(L, option - 1);
            }
        }
    }
    size_t options_length = e->length - length_at - 2;
    if (!ok || options_length > 0xFFFF) return 0;
    e->out[length_at] = (uint8_t)(options_length >> 8);
    e->out[length_at + 1] = (uint8_t)options_length;
    return 1;
}

static int encode_message(lua_State *L, encoder *e, int message) {
    enum { ID, OPCODE, RCODE, EDNS, QUESTIONS, ANSWERS, AUTHORITY, ADDITIONAL, QR, AA, TC, RD, RA, AD, CD, FIELDS };
    static const enum key keys[FIELDS] = {
        KEY_id, KEY_opcode, KEY_rcode, KEY_edns, KEY_questions, KEY_answers, KEY_authority, KEY_additional,
        KEY_qr, KEY_aa, KEY_tc, KEY_rd, KEY_ra, KEY_ad, KEY_cd,
    };
    static const unsigned flag_bits[] = {0x8000, 0x0400, 0x0200, 0x0100, 0x0080, 0x0020, 0x0010};
    int at = gather(L, e, message, keys, FIELDS);
    lua_Integer id, opcode, rcode;
    if (!integer_or(L, at + ID, 0, 0xFFFF, 0, &id) || !integer_or(L, at + OPCODE, 0, 15, 0, &opcode)
        || !integer_or(L, at + RCODE, 0, 0xFFF, 0, &rcode))
        return 0;
    int edns = at + EDNS, has_edns = lua_toboolean(L, edns);
    if ((has_edns && !plain_table(L, edns)) || (rcode > 15 && !has_edns)) return 0;
    unsigned flags = (unsigned)opcode << 11 | (unsigned)(rcode & 0xF);
    for (int i = QR; i <= CD; i++)
        if (lua_toboolean(L, at + i)) flags |= flag_bits[i - QR];
    size_t counts[4];
    for (int i = 0; i < 4; i++)
        if (!list_at(L, at + QUESTIONS + i, &counts[i])) return 0;
    if (has_edns && ++counts[3] > 0xFFFF) return 0;
    if (!put16(e, (unsigned)id) || !put16(e, flags)) return 0;
    for (int i = 0; i < 4; i++)
        if (!put16(e, (unsigned)counts[i])) return 0;
    for (int i = 0; i < 4; i++)
        if (!put_list(L, e, at + QUESTIONS + i, i == 0)) return 0;
    return !has_edns || put_opt(L, e, edns, rcode);
}

/* encode(message) -> bytes, or false (or the fallback's results). Upvalue 1: the encoder. */
static int dns_encode(lua_State *L) {
    encoder *e = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    luaL_checkstack(L, 48, "tapir.proto.dns_native");
    /* Emptied before use, not after: a memory error may leave a call half done. */
    for (int i = 0; i < e->used_count; i++) e->slot_offset[e->used[i]] = 0;
    e->used_count = 0;
    e->length = 0;
    if (!plain_table(L, 1) || !encode_message(L, e, 1)) return decline(L);
    lua_settop(L, 1);
    lua_pushlstring(L, (const char *)e->out, e->length);
    return 1;
}

/* Pushes f as a closure: upvalue 1 the encoder at `encoder_at` (0: none), the keys, and the
   fallback at `fallback` (0: none). */
static void push_function(lua_State *L, lua_CFunction f, int encoder_at, int fallback) {
    luaL_checkstack(L, KEY_COUNT + 4, "tapir.proto.dns_native");
    encoder *e = encoder_at != 0 ? lua_touserdata(L, encoder_at) : NULL;
    if (e != NULL) lua_pushvalue(L, encoder_at); else lua_pushnil(L);
    for (int i = 0; i < KEY_COUNT; i++) {
        const char *text = lua_pushstring(L, key_names[i]);
        if (e != NULL) e->key_text[i] = text;  /* interned: the same for every closure */
    }
    if (fallback != 0) lua_pushvalue(L, fallback); else lua_pushnil(L);
    lua_pushcclosure(L, f, KEY_COUNT + 2);
}

/* bind(lua_decode, lua_encode) -> decode, encode: the functions dns.lua exports, each
   calling its Lua function with what the core declines. Upvalue 1: the encoder. */
static int bind_fallbacks(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    push_function(L, dns_decode, 0, 1);
    push_function(L, dns_encode, 3, 2);
    return 2;
}

/* The module: decode and encode saying false for what they decline, and bind. One encoder
   (its buffer and suffix table) serves every encode of the state: encode runs to its end
   without yielding or calling Lua. */
static int open_dns_native(lua_State *L) {
    lua_createtable(L, 0, 3);
    encoder *e = lua_newuserdatauv(L, sizeof *e, 0);
    memset(e, 0, sizeof *e);
    int encoder_at = lua_gettop(L);
    push_function(L, dns_decode, 0, 0);
    lua_setfield(L, -3, "decode");
    push_function(L, dns_encode, encoder_at, 0);
    lua_setfield(L, -3, "encode");
    lua_pushcclosure(L, bind_fallbacks, 1);
    lua_setfield(L, -2, "bind");
    return 1;
}

void clua_preload_dns(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, open_dns_native);
    lua_setfield(L, -2, "tapir.proto.dns_native");
    lua_pop(L, 1);
}
