-- tapir.pair: Twisted Pair's API (twisted.pair) in Lua, so its programs port line by line.
--
-- Faithful where Twisted is right: the same classes, addProto with the same range
-- checks and errors, the same argument lists for datagramReceived, bytes in and out.
-- Correct where it is wrong: the IPv4 header length comes from IHL (Twisted slices at
-- a fixed 20 bytes and swaps version and IHL), and what Twisted users asked for is here:
-- IPv6 (IPv6Protocol), ARP (ARPProtocol) and a way to answer UDP (RawUDPProtocol passes
-- a `reply(payload)` function as the third argument to datagramReceived, valid during
-- that call).
local pair = {}

local function class(name)
  local cls = {}
  cls.__index = cls
  cls.__name = name
  return setmetatable(cls, {
    __call = function(c, ...)
      local self = setmetatable({}, c)
      if self.init then self:init(...) end
      return self
    end,
  })
end

local function checkNumber(num, bits)
  if math.type(num) ~= "integer" then
    error("Added protocol number must be an integer", 3)
  end
  if num < 0 then error("Added protocol must be positive or zero", 3) end
  if num >= (1 << bits) then error("Added protocol must fit in " .. bits .. " bits", 3) end
end

local function addTo(registry, num, proto)
  registry[num] = registry[num] or {}
  table.insert(registry[num], proto)
end

local function ipv4(bytes, at)
  return string.format("%d.%d.%d.%d", bytes:byte(at, at + 3))
end

-- RFC 5952 text: the longest run of two or more zero groups becomes "::".
local function ipv6(bytes, at)
  local groups, bestStart, bestLength, runStart = {}, nil, 1, nil
  for i = 1, 8 do
    groups[i] = string.unpack(">I2", bytes, at + 2 * (i - 1))
    if groups[i] == 0 then
      runStart = runStart or i
      if i - runStart + 1 > bestLength then bestStart, bestLength = runStart, i - runStart + 1 end
    else
      runStart = nil
    end
  end
  local text = {}
  for i = 1, 8 do text[i] = string.format("%x", groups[i]) end
  if not bestStart then return table.concat(text, ":") end
  return table.concat(text, ":", 1, bestStart - 1) .. "::"
      .. table.concat(text, ":", bestStart + bestLength, 8)
end

-- A DatagramProtocol: what RawUDPProtocol.addProto accepts (Twisted checks isinstance).
pair.DatagramProtocol = class("DatagramProtocol")
function pair.DatagramProtocol:datagramReceived(data, addr) end
function pair.DatagramProtocol.subclass(name)
  local cls = class(name)
  cls.__isDatagramProtocol = true
  return setmetatable(cls, {
    __index = pair.DatagramProtocol,
    __call = getmetatable(cls).__call,
  })
end
pair.DatagramProtocol.__isDatagramProtocol = true

-- EthernetProtocol: dispatches frames on their EtherType.
pair.EthernetProtocol = class("EthernetProtocol")
function pair.EthernetProtocol:init() self.etherProtos = {} end
function pair.EthernetProtocol:addProto(num, proto)
  checkNumber(num, 16)
  addTo(self.etherProtos, num, proto)
end
function pair.EthernetProtocol:datagramReceived(data, partial)
  if #data < 14 then return end
  local dest, source = data:sub(1, 6), data:sub(7, 12)
  local protocol = string.unpack(">I2", data, 13)
  for _, proto in ipairs(self.etherProtos[protocol] or {}) do
    proto:datagramReceived(data:sub(15), partial or 0, dest, source, protocol)
  end
end

-- IPProtocol: IPv4, dispatched on the protocol number, header length from IHL.
pair.IPProtocol = class("IPProtocol")
function pair.IPProtocol:init() self.ipProtos = {} end
function pair.IPProtocol:addProto(num, proto)
  checkNumber(num, 32)
  addTo(self.ipProtos, num, proto)
end
function pair.IPProtocol:datagramReceived(data, partial, dest, source, protocol)
  if #data < 20 then return end
  local versionIHL, tos, totLen, id, fragOff, ttl, proto = string.unpack(">BBI2I2I2BB", data)
  local version, ihl = versionIHL >> 4, (versionIHL & 0x0f) * 4
  if version ~= 4 or ihl < 20 or #data < ihl then return end
  local payloadEnd = math.min(#data, totLen)
  for _, handler in ipairs(self.ipProtos[proto] or {}) do
    handler:datagramReceived(data:sub(ihl + 1, payloadEnd), partial or 0,
      ipv4(data, 13), ipv4(data, 17), proto, version, ihl, tos, totLen, id,
      fragOff & 0x1fff, fragOff & 0x4000 ~= 0, fragOff & 0x2000 ~= 0, ttl)
  end
end

-- IPv6Protocol: what Twisted lacks. Dispatched on Next Header (no extension headers
-- are walked here: register 0/43/44/60 to see them).
pair.IPv6Protocol = class("IPv6Protocol")
function pair.IPv6Protocol:init() self.ipProtos = {} end
pair.IPv6Protocol.addProto = pair.IPProtocol.addProto
function pair.IPv6Protocol:datagramReceived(data, partial, dest, source, protocol)
  if #data < 40 or data:byte(1) >> 4 ~= 6 then return end
  local payloadLength, nextHeader, hopLimit = string.unpack(">I2BB", data, 5)
  for _, handler in ipairs(self.ipProtos[nextHeader] or {}) do
    handler:datagramReceived(data:sub(41, 40 + payloadLength), partial or 0,
      ipv6(data, 9), ipv6(data, 25), nextHeader, 6, 40, 0, 40 + payloadLength, 0, 0,
      false, false, hopLimit)
  end
end

-- ARPProtocol: what Twisted lacks: hands up Ethernet/IPv4 ARP as fields, and answers
-- requests for the addresses given to answer(), so the kernel finds a port's host.
pair.ARPProtocol = class("ARPProtocol")
function pair.ARPProtocol:init() self.answers = {} end
-- Requests for `address` (IPv4 text) get a reply saying it is at `mac`.
function pair.ARPProtocol:answer(address, mac) self.answers[address] = mac end
function pair.ARPProtocol:datagramReceived(data, partial, dest, source, protocol)
  if #data < 28 then return end
  local op = string.unpack(">I2", data, 7)
  local tpa = ipv4(data, 25)
  local mac = op == 1 and self.answers and self.answers[tpa]
  if mac then
    local port = pair.currentPort
    port:write(port.currentPacket:reply{arp = {sha = mac}})
  end
  self:arpReceived(op, data:sub(9, 14), ipv4(data, 15), data:sub(19, 24), tpa)
end
function pair.ARPProtocol:arpReceived(op, sha, spa, tha, tpa) end

-- RawUDPProtocol: dispatches on the destination port to DatagramProtocols.
pair.RawUDPProtocol = class("RawUDPProtocol")
function pair.RawUDPProtocol:init() self.udpProtos = {} end
function pair.RawUDPProtocol:addProto(num, proto)
  if type(proto) ~= "table" or not proto.__isDatagramProtocol then
    error("Added protocol must be an instance of DatagramProtocol", 2)
  end
  checkNumber(num, 16)
  addTo(self.udpProtos, num, proto)
end
function pair.RawUDPProtocol:datagramReceived(data, partial, source, dest, protocol, version,
                                              ihl, tos, tot_len, fragment_id, fragment_offset,
                                              dont_fragment, more_fragments, ttl)
  if #data < 8 then return end
  local sport, dport = string.unpack(">I2I2", data)
  for _, proto in ipairs(self.udpProtos[dport] or {}) do
    -- Twisted offers no way to answer; this one answers the packet being handled.
    local reply = function(payload)
      local port = pair.currentPort
      return port:write(port.currentPacket:reply{payload = payload})
    end
    proto:datagramReceived(data:sub(9), {source, sport}, reply)
  end
end

-- TuntapPort: a tap device when the protocol is an EthernetProtocol, a tun otherwise.
pair.TuntapPort = class("TuntapPort")
pair.TuntapPort.maxThroughput = 256 * 1024
function pair.TuntapPort:init(interface, proto, options)
  options = options or {}
  self.interface = interface
  self.protocol = proto
  self.maxPacketSize = options.maxPacketSize or 8192
  self.reactor = options.reactor
  self.mode = getmetatable(proto) == pair.EthernetProtocol and "tap" or "tun"
  self.logstr = (getmetatable(proto).__name or "Protocol") .. " (" .. self.mode:upper() .. ")"
end
function pair.TuntapPort:startListening()
  self.device = tapir.open{name = self.interface, mode = self.mode}
  self.interface = self.device.name
  self.protocol.transport = self
  self.handler = tapir.on("frame", function(pkt, dev)
    if dev ~= self.device then return end
    pair.currentPort, self.currentPacket = self, pkt
    local data = pkt:bytes()
    if #data > self.maxPacketSize then data = data:sub(1, self.maxPacketSize) end
    self.protocol:datagramReceived(data, 0)
  end)
  tapir.log.info(self.logstr .. " starting on " .. self.interface)
end
function pair.TuntapPort:stopListening()
  if self.handler then self.handler:off() end
  self.handler = nil
  tapir.log.info("(Tuntap " .. self.interface .. " Closed)")
end
function pair.TuntapPort:write(datagram) return self.device:write(datagram) end
function pair.TuntapPort:writeSequence(seq) return self:write(table.concat(seq)) end
function pair.TuntapPort:logPrefix() return self.logstr end
function pair.TuntapPort:getHost() return {type = self.mode:upper(), name = self.interface} end

return pair
