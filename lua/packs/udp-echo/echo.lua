-- RFC 862: every datagram to one of the ports goes back to its sender, data unchanged.
-- The port is matched natively (dispatch keys); pkt:reply keeps the payload.
local config = tapir.config
local IP = config.ip
local KEEP_EVERYTHING = {}  -- reused: no table per datagram

local function echo(pkt, dev)
  local ip = pkt.ip
  if not ip or ip.dst ~= IP then return end
  pkt:reply(KEEP_EVERYTHING, dev)  -- written from the host's buffer: no Lua string
  return true
end

for _, port in ipairs(config.ports) do
  tapir.on("udp", {dport = port}, echo)
end

if config.arp then
  tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
    dev:write(pkt:reply{arp = {sha = config.mac}})
    return true
  end)
end
