-- Echo replies for both addresses; pkt:reply keeps identifier, sequence and data. As
-- Linux answers: a record-route option (ping -R) is echoed with our address recorded on
-- the way in and again on the way out (RFC 791; Linux's ip_options_echo), and ICMP
-- timestamp requests (13) get a timestamp reply (14, RFC 792) with the time of day in
-- milliseconds since midnight UT as receive and transmit timestamps.
-- IPv4 and IPv6 fragments come reassembled (a reply over the MTU goes out as fragments):
-- a request in fragments is answered whole, never in part.
tapir.reassemble = true
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
local frames = require "frames"

local OUR_ADDRESS = require("tapir.addr").ipv4_bytes(config.ip)
local RECORD_ROUTE = 7

-- The options of the reply to a datagram with `options`: its record-route option with
-- our address added twice (in, then out) while there is room; other options dropped, as
-- Linux echoes none of them on an echo reply but RR, timestamps and source routes. Nil:
-- none to echo.
local function echoed_options(options)
  local at = 1
  while at <= #options do
    local kind = options:byte(at)
    if kind == 0 then break end
    if kind == 1 then
      at = at + 1
    else
      local length = options:byte(at + 1)
      if not length or length < 2 or at + length - 1 > #options then return nil end
      if kind == RECORD_ROUTE and length >= 3 then
        local option = options:sub(at, at + length - 1)
        for _ = 1, 2 do
          local pointer = option:byte(3)
          if pointer >= 4 and pointer + 3 <= length then
            option = option:sub(1, 2) .. string.char(pointer + 4) .. option:sub(4, pointer - 1) .. OUR_ADDRESS
                .. option:sub(pointer + 4)
          end
        end
        return option
      end
      at = at + length
    end
  end
  return nil
end

local ECHO_REPLY = {icmp = {type = 0}}

tapir.on("icmp", {type = 8}, function(pkt, dev)
  local ip = pkt.ip
  if ip.dst ~= config.ip or frames.is_fragment(pkt) then return end
  local options = ip.options ~= "" and echoed_options(ip.options)
  if options then
    dev:write(pkt:reply{icmp = {type = 0}, ip = {options = options}})
  else
    dev:write(pkt:reply(ECHO_REPLY))
  end
  return true
end)

-- Milliseconds since midnight UT: the wall clock's second at load, moved on by the
-- host's millisecond clock.
local wall_at_load, clock_at_load = os.time(), tapir.now()
local function ms_since_midnight()
  return math.floor(wall_at_load % 86400 * 1000 + (tapir.now() - clock_at_load)) % 86400000
end

tapir.on("icmp", {type = 13}, function(pkt, dev)
  local ip = pkt.ip
  if ip.dst ~= config.ip or frames.is_fragment(pkt) then return end
  local data = pkt.payload
  if #data < 4 then return true end   -- too short to hold an originate timestamp (Linux drops it)
  local now = ms_since_midnight()
  dev:write(pkt:reply{icmp = {type = 14, code = 0}, payload = data:sub(1, 4) .. string.pack(">I4I4", now, now)})
  return true
end)

tapir.on("icmpv6", {type = 128}, function(pkt, dev)
  if pkt.ipv6.dst ~= config.ipv6 or frames.is_fragment(pkt) then return end
  dev:write(pkt:reply{icmpv6 = {type = 129}})
  return true
end)
