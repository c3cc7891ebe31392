-- Helpers the virtual host's handlers share (require "frames").
local frames = {}

-- Where the network layer starts in the frame: after Ethernet and its VLAN tags.
function frames.network_offset(pkt, bytes)
  if not pkt.eth then return 0 end
  local offset = 14
  while offset <= #bytes and bytes:byte(offset - 1) == 0x81 and bytes:byte(offset) == 0x00 do
    offset = offset + 4
  end
  return offset
end

-- True for a fragment of a larger datagram (IPv4 MF or offset; IPv6 fragment header
-- right after the fixed header): answering one would answer part of a request.
function frames.is_fragment(pkt)
  local ip = pkt.ip
  if ip then return ip.mf or ip.frag ~= 0 end
  if pkt.ipv6 then
    local bytes = pkt:bytes()
    return bytes:byte(frames.network_offset(pkt, bytes) + 7) == 44
  end
  return false
end

function frames.is_group_ipv4(address)
  local first = tonumber(address:match("^(%d+)"))
  return address == "255.255.255.255" or address == "0.0.0.0" or (first >= 224 and first <= 239)
         or address:match("%.255$") ~= nil
end

function frames.is_group_ipv6(address)
  return address:sub(1, 2) == "ff" or address == "::"
end

return frames
