-- tapir.console_ask: the prompt's send-and-wait helpers, Scapy's sr1/sr/srloop and two
-- one-line conveniences, arping and ping, built on tapir.request. Each waits in a task
-- the loop runs (console.await), so handlers keep answering meanwhile.
local M = {}

-- The host's own addresses for arping/ping: the sandbox's host side (DESIGN.md) and the
-- MAC the examples answer with. Both may be given instead.
M.hostIP = "198.18.0.2"
M.hostMAC = "02:54:41:50:49:52"
M.timeout = 1000

local function isPacket(value)
  if type(value) ~= "userdata" then return false end
  local ok, layers = pcall(function() return value.layers end)
  return ok and type(layers) == "string"
end

local function ipv4Text(bytes, offset)
  return string.format("%d.%d.%d.%d", bytes:byte(offset, offset + 3))
end

local function ipv6Text(bytes, offset)
  return require("tapir.address").ipv6_text(bytes:sub(offset, offset + 15))
end

-- What answers `bytes` (sent on `dev`): an ARP reply from the address asked for, or any
-- IP packet from the destination to the source (an echo reply, a UDP answer, an ICMP error).
function M.answerSelector(bytes, dev)
  local offset = 1
  local etherType
  if dev.mode == "tap" then
    if #bytes < 14 then error("a frame of " .. #bytes .. " bytes has no Ethernet header", 4) end
    etherType = bytes:byte(13) * 256 + bytes:byte(14)
    offset = 15
    if etherType == 0x8100 and #bytes >= 18 then
      etherType = bytes:byte(17) * 256 + bytes:byte(18)
      offset = 19
    end
  else
    local version = (bytes:byte(1) or 0) >> 4
    etherType = version == 6 and 0x86dd or 0x0800
  end
  if etherType == 0x0806 and #bytes >= offset + 27 then
    return "arp", { op = 2, spa = ipv4Text(bytes, offset + 24) }
  elseif etherType == 0x0800 and #bytes >= offset + 19 then
    return "ip", { src = ipv4Text(bytes, offset + 16), dst = ipv4Text(bytes, offset + 12) }
  elseif etherType == 0x86dd and #bytes >= offset + 39 then
    return "ipv6", { src = ipv6Text(bytes, offset + 24), dst = ipv6Text(bytes, offset + 8) }
  end
  error("cannot tell what would answer this frame: give a filter", 4)
end

local function firstDevice()
  local dev = tapir.devices()[1]
  if not dev then error("no device to send on", 4) end
  return dev
end

-- What a request waits for: the filter given, or what answers the frame.
local function expected(bytes, filter, dev)
  if filter then return { filter } end
  return { M.answerSelector(bytes, dev) }
end

-- One request inside the task: returns the answer, or nil.
local function ask(bytes, expect, timeout, dev)
  if expect[2] then return tapir.request(bytes, expect[1], expect[2], timeout, dev) end
  return tapir.request(bytes, expect[1], timeout, dev)
end

local function checkArguments(value, filter, timeout)
  local bytes = isPacket(value) and value:bytes() or value
  if type(bytes) ~= "string" then error("expected bytes or a packet, got " .. type(value), 3) end
  if filter ~= nil and type(filter) ~= "string" then error("the filter must be a pcap-filter string or nil", 3) end
  if timeout ~= nil and math.type(timeout) ~= "integer" then error("the timeout is in milliseconds, an integer", 3) end
  return bytes, filter, timeout or M.timeout
end

function M.install(console)
  -- sr1(bytes or pkt, [filter], [timeout_ms]) -> the first answer, or nil.
  sr1 = function(value, filter, timeout)
    local bytes, given, wait = checkArguments(value, filter, timeout)
    local dev = firstDevice()
    local expect = expected(bytes, given, dev)
    return (console.await(function() return (ask(bytes, expect, wait, dev)) end))
  end

  -- sr({bytes or pkt, ...}, [filter], [timeout_ms]) -> answered {{sent, answer}, ...}, unanswered {sent, ...}
  sr = function(list, filter, timeout)
    if type(list) ~= "table" then error("sr expects a list of frames", 2) end
    local dev = firstDevice()
    local frames, expects = {}, {}
    for index, value in ipairs(list) do
      frames[index] = (checkArguments(value, filter, timeout))
      expects[index] = expected(frames[index], filter, dev)
    end
    local _, _, wait = checkArguments("", filter, timeout)
    return console.await(function()
      local answered, unanswered = {}, {}
      for index, bytes in ipairs(frames) do
        local answer = ask(bytes, expects[index], wait, dev)
        if answer then answered[#answered + 1] = { list[index], answer }
        else unanswered[#unanswered + 1] = list[index] end
      end
      return answered, unanswered
    end)
  end

  -- srloop(bytes or pkt, [count = 3], [interval_ms = 1000]): a line per answer (or timeout).
  srloop = function(value, count, interval)
    local bytes = checkArguments(value)
    count, interval = count or 3, interval or 1000
    if math.type(count) ~= "integer" or math.type(interval) ~= "integer" then
      error("srloop(bytes, count, interval_ms): count and interval are integers", 2)
    end
    local dev = firstDevice()
    local expect = expected(bytes, nil, dev)
    console.await(function()
      local answered = 0
      for index = 1, count do
        local started = tapir.now()
        local answer = ask(bytes, expect, M.timeout, dev)
        if answer then
          answered = answered + 1
          print(string.format("%d: %s  (%.1f ms)", index, tostring(answer), tapir.now() - started))
        else
          print(string.format("%d: no answer in %d ms", index, M.timeout))
        end
        if index < count then tapir.sleep(interval) end
      end
      print(string.format("%d sent, %d answered", count, answered))
    end)
  end

  local function arpRequest(ip, src, mac)
    return tapir.build.eth{ src = mac, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806 }
      .. tapir.build.arp{ op = 1, sha = mac, spa = src, tha = "00:00:00:00:00:00", tpa = ip }
  end

  -- arping(ip, [src_ip], [mac]) -> the MAC that answers, or nil.
  arping = function(ip, src, mac)
    if type(ip) ~= "string" then error("arping expects an IPv4 address", 2) end
    local request = arpRequest(ip, src or M.hostIP, mac or M.hostMAC)
    local dev = firstDevice()
    local expect = expected(request, nil, dev)
    local answer = console.await(function() return ask(request, expect, M.timeout, dev) end)
    return answer and answer.arp.sha or nil
  end

  -- ping(ip, [count = 1], [src_ip]): ARP for ip first (which also tells the kernel our
  -- address), then echo requests; a line per reply; returns how many were answered.
  ping = function(ip, count, src)
    if type(ip) ~= "string" then error("ping expects an IPv4 address", 2) end
    count = count or 1
    local from, mac = src or M.hostIP, M.hostMAC
    local dev = firstDevice()
    local request = arpRequest(ip, from, mac)
    local expect = expected(request, nil, dev)
    return console.await(function()
      local arp = ask(request, expect, M.timeout, dev)
      if not arp then
        print("no ARP answer from " .. ip)
        return 0
      end
      local answered = 0
      for seq = 1, count do
        local started = tapir.now()
        local echo = tapir.build.eth{ src = mac, dst = arp.arp.sha, type = 0x0800 }
          .. tapir.build.ip{ src = from, dst = ip, proto = 1,
                             payload = tapir.build.icmp{ type = 8, id = 0x7470, seq = seq, payload = "tapir ping" } }
        local reply = tapir.request(echo, "icmp", { type = 0, id = 0x7470, seq = seq }, M.timeout, dev)
        if reply then
          answered = answered + 1
          print(string.format("reply from %s: seq=%d ttl=%d time=%.1f ms", reply.ip.src, seq, reply.ip.ttl,
                              tapir.now() - started))
        else
          print(string.format("no reply from %s: seq=%d", ip, seq))
        end
        if seq < count then tapir.sleep(1000) end
      end
      return answered
    end)
  end
end

return M
