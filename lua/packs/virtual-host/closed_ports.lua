-- What a host does with segments and datagrams no handler took: UDP gets ICMP port
-- unreachable (quoting the IP header and 8 bytes of the datagram, RFC 792 / 4443), TCP
-- gets a reset (RFC 793). Never about a broadcast or multicast packet, a packet from
-- such an address, or a later fragment (RFC 1122 3.2.2).
local config = tapir.config

local frames = require "frames"
local is_group_mac = require("tapir.neighbours").is_group_mac
local is_group_ipv4, is_group_ipv6 = frames.is_group_ipv4, frames.is_group_ipv6
local network_offset = frames.network_offset

local function link_header(pkt, type)
  if not pkt.eth then return "" end
  return tapir.build.eth{src = config.mac, dst = pkt.eth.src, type = type}
end

local function unreachable_v4(pkt, dev)
  local ip = pkt.ip
  if ip.dst ~= config.ip or is_group_ipv4(ip.src) or ip.frag ~= 0 then return end
  local bytes = pkt:bytes()
  local start = network_offset(pkt, bytes)
  local quote = bytes:sub(start + 1, start + ip.ihl * 4 + 8)
  dev:write(link_header(pkt, 0x0800)
         .. tapir.build.ip{src = config.ip, dst = ip.src, proto = 1,
                           payload = tapir.build.icmp{type = 3, code = 3, payload = quote}})
  return true
end

local function unreachable_v6(pkt, dev)
  local ipv6 = pkt.ipv6
  if ipv6.dst ~= config.ipv6 or is_group_ipv6(ipv6.src) then return end
  local bytes = pkt:bytes()
  local start = network_offset(pkt, bytes)
  local quote = bytes:sub(start + 1, start + 1232)  -- the reply fits the minimum MTU, 1280
  dev:write(link_header(pkt, 0x86dd)
         .. tapir.build.ipv6{src = config.ipv6, dst = ipv6.src, nxt = 58,
                             payload = tapir.build.icmpv6{type = 1, code = 4, payload = quote}})
  return true
end

local function reset(pkt, dev)
  local tcp = pkt.tcp
  if tcp.flags & 0x04 ~= 0 then return true end  -- never answer a reset
  local ip, ipv6 = pkt.ip, pkt.ipv6
  if ip and (ip.dst ~= config.ip or is_group_ipv4(ip.src)) then return end
  if ipv6 and (ipv6.dst ~= config.ipv6 or is_group_ipv6(ipv6.src)) then return end
  -- Window 0, as Linux sends a reset (pkt:reply would keep theirs).
  if tcp.flags & 0x10 ~= 0 then
    dev:write(pkt:reply{tcp = {flags = 0x04, window = 0}, payload = ""})  -- seq = their ack
  else
    dev:write(pkt:reply{tcp = {flags = 0x14, seq = 0, window = 0}, payload = ""})  -- ack = their seq + length
  end
  return true
end

tapir.on("unclaimed", function(pkt, dev)
  if pkt.eth and is_group_mac(pkt.eth.dst) then return end
  if pkt.udp then
    if pkt.ip then return unreachable_v4(pkt, dev) end
    if pkt.ipv6 then return unreachable_v6(pkt, dev) end
  elseif pkt.tcp then
    return reset(pkt, dev)
  end
end)
