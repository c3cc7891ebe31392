// What a router asks of a packet, natively: its Ethernet and IP header fields as integers
// (pkt:ethernet_header, pkt:ipv4_header, pkt:ipv6_header: no Lua string of the frame, no string.unpack) and
// the forward itself (pkt:forward: the datagram written to another device behind a link
// header, its TTL or hop limit lowered, the IPv4 header checksum updated per RFC 1624).
#include "clua_internal.h"
#include "CLuaPacket.h"

#include <string.h>

static unsigned read16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }

static lua_Integer read32(const uint8_t *p) {
    return (lua_Integer)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static lua_Integer read64(const uint8_t *p) {
    uint64_t value = 0;
    for (int i = 0; i < 8; i++) value = value << 8 | p[i];
    return (lua_Integer)value;
}

static lua_Integer read48(const uint8_t *p) {
    uint64_t value = 0;
    for (int i = 0; i < 6; i++) value = value << 8 | p[i];
    return (lua_Integer)value;
}

/* The offset argument: where the IP header starts in the frame (0 on tun, 14 on tap). */
static size_t check_offset(lua_State *L, int index, const clua_packet *packet) {
    lua_Integer offset = luaL_optinteger(L, index, 0);
    luaL_argcheck(L, offset >= 0 && offset <= 64, index, "an offset 0 to 64 expected");
    (void)packet;
    return (size_t)offset;
}

/* pkt:ethernet_header() -> dst, src, type (integers; MACs as 48 bits), or nil when shorter than 14. */
static int packet_ethernet(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    if (packet->length < 14) { lua_pushnil(L); return 1; }
    lua_pushinteger(L, read48(packet->bytes));
    lua_pushinteger(L, read48(packet->bytes + 6));
    lua_pushinteger(L, read16(packet->bytes + 12));
    return 3;
}

/* One's complement sum of a header's 16-bit words (RFC 1071), folded. */
static unsigned header_sum(const uint8_t *p, size_t length) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < length; i += 2) sum += read16(p + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

/* pkt:ipv4_header([offset]) -> header_length, total_length, fragment (flags and offset), ttl,
   protocol, source, destination (integers), checksum_ok; or nil when no sane IPv4 header
   starts at offset (version 4, a header of 20 bytes or more, a total length holding it and
   within the frame). */
static int packet_ipv4(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    size_t offset = check_offset(L, 2, packet);
    if (packet->length < offset + 20) { lua_pushnil(L); return 1; }
    const uint8_t *ip = packet->bytes + offset;
    unsigned header_length = (ip[0] & 15u) * 4;
    unsigned total_length = read16(ip + 2);
    if (ip[0] >> 4 != 4 || header_length < 20 || total_length < header_length
        || offset + total_length > packet->length) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, header_length);
    lua_pushinteger(L, total_length);
    lua_pushinteger(L, read16(ip + 6));
    lua_pushinteger(L, ip[8]);
    lua_pushinteger(L, ip[9]);
    lua_pushinteger(L, read32(ip + 12));
    lua_pushinteger(L, read32(ip + 16));
    lua_pushboolean(L, header_sum(ip, header_length) == 0xffff);
    return 8;
}

/* pkt:ipv6_header([offset]) -> payload_length, next_header, hop_limit, source_high, source_low,
   destination_high, destination_low (the addresses as two 64-bit integers each); or nil
   when no IPv6 header with its whole payload starts at offset. */
static int packet_ipv6(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    size_t offset = check_offset(L, 2, packet);
    if (packet->length < offset + 40) { lua_pushnil(L); return 1; }
    const uint8_t *ip = packet->bytes + offset;
    unsigned payload_length = read16(ip + 4);
    if (ip[0] >> 4 != 6 || offset + 40 + payload_length > packet->length) { lua_pushnil(L); return 1; }
    lua_pushinteger(L, payload_length);
    lua_pushinteger(L, ip[6]);
    lua_pushinteger(L, ip[7]);
    lua_pushinteger(L, read64(ip + 8));
    lua_pushinteger(L, read64(ip + 16));
    lua_pushinteger(L, read64(ip + 24));
    lua_pushinteger(L, read64(ip + 32));
    return 7;
}

#define LINK_MAX 64
static _Thread_local uint8_t forward_buffer[LINK_MAX + 65535];

/* pkt:forward(dev, [offset], [link]) -> what dev:write returns: the IPv4 or IPv6 datagram
   at offset (its own length: link padding left out) written to dev behind `link` (an
   Ethernet header, or nothing on tun), with its TTL or hop limit one lower and, for IPv4,
   the header checksum updated incrementally (RFC 1624 eqn. 3). Raises for a datagram that
   pkt:ipv4_header/pkt:ipv6_header would not read or whose TTL or hop limit is 1 or less: the caller
   checks those first (they need an ICMP error, not a forward). */
static int packet_forward(lua_State *L) {
    clua_packet *packet = clua_packet_check_bound(L, 1);
    clua_check_device(L, 2);
    size_t offset = check_offset(L, 3, packet);
    size_t link_length = 0;
    const char *link = luaL_optlstring(L, 4, "", &link_length);
    luaL_argcheck(L, link_length <= LINK_MAX, 4, "a link header of 64 bytes at most expected");
    const uint8_t *ip = packet->bytes + offset;
    size_t length;
    if (packet->length >= offset + 20 && ip[0] >> 4 == 4) {
        length = read16(ip + 2);
        if (length < 20 || offset + length > packet->length) return luaL_error(L, "forward: not a whole IPv4 datagram");
        if (ip[8] <= 1) return luaL_error(L, "forward: TTL %d runs out here", ip[8]);
    } else if (packet->length >= offset + 40 && ip[0] >> 4 == 6) {
        length = 40 + (size_t)read16(ip + 4);
        if (offset + length > packet->length) return luaL_error(L, "forward: not a whole IPv6 datagram");
        if (ip[7] <= 1) return luaL_error(L, "forward: hop limit %d runs out here", ip[7]);
    } else {
        return luaL_error(L, "forward: no IPv4 or IPv6 datagram at offset %d", (int)offset);
    }
    uint8_t *out = forward_buffer;
    memcpy(out, link, link_length);
    memcpy(out + link_length, ip, length);
    uint8_t *datagram = out + link_length;
    if (datagram[0] >> 4 == 4) {
        unsigned old_word = read16(datagram + 8);
        datagram[8] -= 1;
        unsigned new_word = read16(datagram + 8);
        uint32_t sum = (~read16(datagram + 10) & 0xffffu) + (~old_word & 0xffffu) + new_word;
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        unsigned checksum = ~sum & 0xffffu;
        datagram[10] = (uint8_t)(checksum >> 8);
        datagram[11] = (uint8_t)checksum;
    } else {
        datagram[7] -= 1;
    }
    return clua_device_write(L, 2, out, link_length + length);
}

void clua_forward_install_methods(lua_State *L) {
    /* stack: the packet keys table */
    lua_pushcfunction(L, packet_ethernet);
    lua_setfield(L, -2, "ethernet_header");
    lua_pushcfunction(L, packet_ipv4);
    lua_setfield(L, -2, "ipv4_header");
    lua_pushcfunction(L, packet_ipv6);
    lua_setfield(L, -2, "ipv6_header");
    lua_pushcfunction(L, packet_forward);
    lua_setfield(L, -2, "forward");
}
