-- What a host does for its own addresses on the link, as one instance a pack makes
-- (require "tapir.neighbours"): answers ARP requests for its IPv4 addresses and neighbour
-- solicitations for its IPv6 ones with its MAC, and, as a NIC does, ignores frames sent to
-- another unicast MAC (broadcast and multicast frames still come through). Optionally it
-- answers pings to its addresses too.
--
--   local neighbours = require "tapir.neighbours"
--   local host = neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6}:start()
--
-- Make it before the pack's other handlers: handlers run in registration order, and the
-- frames it ignores are claimed so later handlers (and "unclaimed" ones) never see them.
-- Requiring the module registers nothing; `start` does.
local M = {}
local Host = {}  -- an instance's methods
Host.__index = Host

local BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
local ZERO_MAC = "00:00:00:00:00:00"
local NA_SOLICITED_OVERRIDE = 0x60  -- RFC 4861 4.4: S and O
local NA_ROUTER = 0x80
local ECHO_REPLY = {icmp = {type = 0}}
local ECHO_REPLY_V6 = {icmpv6 = {type = 129}}

local function set_of(value, name)
  local list = type(value) == "table" and value or {value}
  local set = {}
  for _, address in ipairs(list) do
    if type(address) ~= "string" then
      error("neighbours.new: '" .. name .. "' must be an address or a list of them, got " .. type(address), 3)
    end
    set[address] = true
  end
  return set, list
end

-- True for a broadcast or multicast ("group") MAC: the I/G bit, the first octet's lowest.
function M.is_group_mac(mac)
  local first = tonumber(mac:sub(1, 2), 16)
  return first ~= nil and first % 2 == 1
end

-- config: mac (required), ipv4, ipv6 (an address or a list), answer (ARP and NDP, default
-- true), ping (default false), router (NA with the router flag, default false), foreign
-- ("ignore", the default, or "accept"), device (a dev or dev.id: only that device).
function M.new(config)
  if type(config) ~= "table" then error("neighbours.new: a table of settings expected, got " .. type(config), 2) end
  local mac = config.mac
  if type(mac) ~= "string" or not mac:match("^%x%x:%x%x:%x%x:%x%x:%x%x:%x%x$") then
    error("neighbours.new: 'mac' must be a MAC address (02:54:41:50:49:52), got " .. tostring(mac), 2)
  end
  mac = mac:lower()
  if M.is_group_mac(mac) then error("neighbours.new: 'mac' " .. mac .. " is a group address, not a host's", 2) end
  local foreign = config.foreign or "ignore"
  if foreign ~= "ignore" and foreign ~= "accept" then
    error("neighbours.new: 'foreign' must be \"ignore\" or \"accept\", got " .. tostring(foreign), 2)
  end
  local device = config.device
  if type(device) ~= "number" and device ~= nil then device = device.id end
  local self = setmetatable({mac = mac, foreign = foreign, device = device,
                             answer = config.answer ~= false, ping = config.ping == true,
                             router = config.router == true}, Host)
  self.ipv4, self.ipv4_list = set_of(config.ipv4 or {}, "ipv4")
  self.ipv6, self.ipv6_list = set_of(config.ipv6 or {}, "ipv6")
  return self
end

-- True when `address` (IPv4 or IPv6 text) is one of the instance's.
function Host:owns(address)
  return self.ipv4[address] == true or self.ipv6[address] == true
end

-- True when a frame to `mac` is for this host: its own MAC, or a group address.
function Host:accepts(mac)
  return mac == self.mac or M.is_group_mac(mac)
end

local function on_device(self, dev)
  return self.device == nil or dev.id == self.device
end

-- The ARP reply to a request for one of our addresses, or nil.
function Host:arp_reply(pkt)
  local arp = pkt.arp
  if arp.op ~= 1 or not self.ipv4[arp.tpa] then return nil end
  return pkt:reply{arp = {sha = self.mac}}
end

-- The neighbour advertisement answering a solicitation for one of our addresses, or nil
-- (a duplicate address probe, from ::, is not answered: RFC 4862 says the prober's
-- address is not in use if nobody else claims it; a solicitation with hop limit other
-- than 255, a bad checksum or a nonzero code is not valid: RFC 4861 7.1.1). pkt:reply
-- gives it hop limit 255 and, for a solicitation to a solicited-node group, the target as
-- its source.
function Host:advertisement(pkt)
  local icmpv6 = pkt.icmpv6
  if icmpv6.type ~= 135 or not self.ipv6[icmpv6.target] or pkt.ipv6.src == "::" then return nil end
  if pkt.ipv6.hlim ~= 255 or icmpv6.code ~= 0 or icmpv6.chksum_ok ~= true then return nil end
  local flags = NA_SOLICITED_OVERRIDE | (self.router and NA_ROUTER or 0)
  return pkt:reply{icmpv6 = {type = 136, flags = flags, lladdr = self.mac}}
end

-- A gratuitous ARP (RFC 5227 announcement) for each IPv4 address, on `dev` or on every tap.
function Host:announce(dev)
  local devices = dev and {dev} or tapir.devices()
  for _, each in ipairs(devices) do
    if each.mode == "tap" and on_device(self, each) then
      for _, address in ipairs(self.ipv4_list) do
        each:write(tapir.build.eth{src = self.mac, dst = BROADCAST_MAC, type = 0x0806}
                .. tapir.build.arp{op = 1, sha = self.mac, spa = address, tha = ZERO_MAC, tpa = address})
      end
    end
  end
end

-- Frames to another unicast MAC, claimed unseen. A pcap filter runs natively, so frames
-- for us never enter Lua for it (the host recognises this very expression and compares the
-- MAC itself, without running its BPF program: keep its text as it is); the filter needs an
-- Ethernet link on every device (it does not compile for a tun's raw IP), so with taps and
-- tuns mixed a Lua check on Ethernet frames stands in, and with tuns only there is no MAC
-- to check.
local function ignore_foreign_frames(self)
  local taps, tuns = 0, 0
  for _, dev in ipairs(tapir.devices()) do
    if dev.mode == "tap" then taps = taps + 1 else tuns = tuns + 1 end
  end
  local device = self.device
  local function claim(_, dev)
    return device == nil or dev.id == device
  end
  if tuns == 0 then
    tapir.on(string.format("not ether dst %s and not ether multicast", self.mac), claim)
  elseif taps > 0 then
    tapir.on("eth", function(pkt, dev)
      if not self:accepts(pkt.eth.dst) then return claim(pkt, dev) end
    end)
  end
end

local function is_fragment(ip)
  return ip.mf or ip.frag ~= 0
end

-- Registers the handlers the settings ask for; returns the instance.
function Host:start()
  if self.foreign == "ignore" then ignore_foreign_frames(self) end
  if self.answer and next(self.ipv4) then
    tapir.on("arp", {op = 1}, function(pkt, dev)
      if not on_device(self, dev) then return end
      local reply = self:arp_reply(pkt)
      if not reply then return end
      dev:write(reply)
      return true
    end)
  end
  if self.answer and next(self.ipv6) then
    tapir.on("icmpv6", {type = 135}, function(pkt, dev)
      if not on_device(self, dev) or not self.ipv6[pkt.icmpv6.target] then return end
      local reply = self:advertisement(pkt)
      if reply then dev:write(reply) end
      return true
    end)
  end
  if self.ping then
    -- With the device given, pkt:reply writes from the host's buffer: no string per reply.
    tapir.on("icmp", {type = 8}, function(pkt, dev)
      local ip = pkt.ip
      if not on_device(self, dev) or not self.ipv4[ip.dst] or is_fragment(ip) then return end
      pkt:reply(ECHO_REPLY, dev)
      return true
    end)
    tapir.on("icmpv6", {type = 128}, function(pkt, dev)
      if not on_device(self, dev) or not self.ipv6[pkt.ipv6.dst] then return end
      pkt:reply(ECHO_REPLY_V6, dev)
      return true
    end)
  end
  return self
end

return M
