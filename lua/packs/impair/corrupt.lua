-- Corruption: one bit flipped in a frame. The bit is in the transport payload (UDP or TCP
-- data, an ICMP or ICMPv6 echo's data) when the frame has one, else anywhere after the link
-- header. With `fix_checksum`, the transport checksum is updated for the flip (RFC 1624:
-- HC' = ~(~HC + ~m + m'), over the one 16-bit word that changed), so the damage reaches the
-- application; without, the checksum is left as it was, now wrong, and the receiver's
-- check finds it.
local corrupt = {}

-- Where a checksum sits in its transport header.
local CHECKSUM_AT = {udp = 6, tcp = 16, icmp = 2, icmpv6 = 2}

local function link_length(pkt)
  if not pkt.eth then return 0 end
  local vlan = pkt.vlan
  if not vlan then return 14 end
  return vlan.inner_id and 22 or 18
end

-- The transport layer's name, where its header starts (a 0-based offset in the frame) and
-- where its payload starts; nil when the frame has no transport payload to damage.
local HEADER_LENGTH = {udp = function() return 8 end, tcp = function(pkt) return pkt.tcp.dataofs * 4 end,
                       icmp = function() return 8 end, icmpv6 = function() return 8 end}

local function transport(pkt, length)
  local layer = (pkt.udp and "udp") or (pkt.tcp and "tcp") or (pkt.icmp and pkt.icmp.id and "icmp")
      or (pkt.icmpv6 and pkt.icmpv6.id and "icmpv6")
  local payload = #pkt.payload
  if not layer or payload == 0 then return nil end
  local at, header_at = link_length(pkt), nil
  if pkt.ip then
    header_at = at + pkt.ip.ihl * 4
  elseif pkt.ipv6 then  -- after any extension headers: counted back from the datagram's end
    local ip_end = at + 40 + pkt.ipv6.plen
    header_at = layer == "udp" and ip_end - pkt.udp.len or ip_end - payload - HEADER_LENGTH[layer](pkt)
  else
    return nil
  end
  local payload_at = header_at + HEADER_LENGTH[layer](pkt)
  if payload_at + payload > length then return nil end
  return layer, header_at, payload_at
end

local function word(bytes, offset)  -- the 16-bit word at a 0-based offset (a missing last byte is 0)
  local high, low = bytes:byte(offset + 1, offset + 2)
  return (high << 8) | (low or 0)
end

local function ones_add(a, b)
  local sum = a + b
  return (sum & 0xffff) + (sum >> 16)
end

-- The frame's bytes with one bit flipped, chosen by `random`; and whether the frame had a
-- transport payload (the bit is in it).
function corrupt.flip(pkt, random, fix_checksum)
  local bytes = pkt:bytes()
  local layer, header_at, payload_at = transport(pkt, #bytes)
  local from = payload_at or link_length(pkt)
  local to = payload_at and payload_at + #pkt.payload or #bytes
  if to <= from then return bytes, false end
  local offset = from + random:below(to - from)
  local bit = 1 << random:below(8)
  local flipped = bytes:sub(1, offset) .. string.char(bytes:byte(offset + 1) ~ bit) .. bytes:sub(offset + 2)
  if not (fix_checksum and layer) then return flipped, layer ~= nil end
  local checksum_at = header_at + CHECKSUM_AT[layer]
  local old_checksum = word(bytes, checksum_at)
  if layer == "udp" and old_checksum == 0 and pkt.ip then return flipped, true end  -- IPv4 UDP with none
  local word_at = header_at + ((offset - header_at) & ~1)
  local m, m2 = word(bytes, word_at), word(flipped, word_at)
  local sum = ones_add(ones_add(~old_checksum & 0xffff, ~m & 0xffff), m2)
  local new_checksum = ~sum & 0xffff
  if layer == "udp" and new_checksum == 0 then new_checksum = 0xffff end  -- 0 means none in UDP
  return flipped:sub(1, checksum_at) .. string.pack(">I2", new_checksum) .. flipped:sub(checksum_at + 3), true
end

return corrupt
