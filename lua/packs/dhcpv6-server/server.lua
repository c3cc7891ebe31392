-- The DHCPv6 exchange (RFC 8415 18.3): client messages to ff02::1:2 (or to the server's
-- link-local address) on UDP port 547 are answered from that link-local address to the
-- client's port 546. Solicit gets Advertise (Reply at once with Rapid Commit), Request a
-- Reply binding what it asks for, Renew and Rebind a Reply extending it, Release and
-- Decline a Reply freeing it, Confirm whether its addresses are on this link,
-- Information-request the DNS options only. Leases are leases.lua's.
local address = require "tapir.addr"
local dhcpv6 = require "tapir.proto.dhcpv6"
local Counters = require "tapir.counters"
local neighbours = require "tapir.neighbours"
local leases = require "leases"
local ndp = require "tapir.proto.ndp"

local config = tapir.config
local M, O, STATUS = dhcpv6, dhcpv6.OPTION, dhcpv6.STATUS
local ALL_SERVERS = address.ipv6_bytes("ff02::1:2")

local LINK_LOCAL_TEXT = ndp.link_local(config.mac)
local LINK_LOCAL = address.ipv6_bytes(LINK_LOCAL_TEXT)
local SERVER_ID = assert(dhcpv6.duid_ll(config.mac))
local T1, T2 = config.preferred // 2, config.preferred * 4 // 5

-- Counted in tapir.state (a reload keeps counting), logged when the host stops.
local counters = Counters.new{prefix = "dhcpv6-server", log_at_stop = true,
                              names = {"solicit", "advertise", "request", "renew", "rebind", "release", "decline",
                                       "confirm", "information_request", "reply", "ignored"}}
local function count(name) counters:add(name) end

-- The server's link-local address on the link (tapir.neighbours): neighbour solicitations
-- for it answered, frames to another unicast MAC ignored. Before the handlers below.
neighbours.new{mac = config.mac, ipv6 = LINK_LOCAL_TEXT}:start()

tapir.log.info("dhcpv6-server: " .. LINK_LOCAL_TEXT .. " mac " .. config.mac .. ", pool " .. config.pool
               .. ", delegating " .. config.prefixes .. " in /" .. config.delegated_length .. "s")

-- An IA of an answer holding the lease `text` of `kind` ("addresses" / "prefixes") with
-- the configured lifetimes.
local function leased_ia(kind, iaid, text)
  local lease = {preferred = config.preferred, valid = config.valid}
  if kind == "addresses" then lease.address = text else lease.prefix, lease.length = text, leases.delegated_length end
  local answer = {iaid = iaid, t1 = T1, t2 = T2}
  answer[kind] = {lease}
  return answer
end

-- The IA of the answer for one IA of the request, of `kind` ("addresses" / "prefixes"):
-- `choose(client, wanted)` gives the lease (text), or nil when none is left.
local function answer_ia(kind, ia, duid, choose)
  local client = leases.client(duid, ia.iaid)
  local entries = kind == "addresses" and ia.addresses or ia.prefixes
  local wanted = entries[1] and (entries[1].address or entries[1].prefix)
  local text = choose(client, wanted)
  if not text then
    return {iaid = ia.iaid, status = {status = kind == "addresses" and STATUS.NO_ADDRS_AVAIL or STATUS.NO_PREFIX_AVAIL,
                                      message = kind == "addresses" and "no addresses left" or "no prefixes left"}}
  end
  return leased_ia(kind, ia.iaid, text)
end

-- The IAs of an answer to a Solicit (offered, or bound when `commit`) or a Request
-- (bound): what the client holds, else what it asks for when that is free, else the
-- first free one.
local function offer(request, commit)
  local result = {}
  for field, kind in pairs({ia_na = "addresses", ia_pd = "prefixes"}) do
    result[field] = {}
    for _, ia in ipairs(request[field]) do
      result[field][#result[field] + 1] = answer_ia(kind, ia, request.client_id, function(client, wanted)
        local text = leases.held(kind, client)
        if not text and wanted and leases.is_free(kind, wanted) then text = wanted end
        text = text or leases.choose(kind, client)
        if text and commit and not leases.bind(kind, client, text) then return nil end
        return text
      end)
    end
  end
  return result.ia_na, result.ia_pd
end

-- Renew and Rebind: each lease the client names is extended, or its IA says NoBinding.
local function extend(request)
  local result = {}
  for field, kind in pairs({ia_na = "addresses", ia_pd = "prefixes"}) do
    result[field] = {}
    for _, ia in ipairs(request[field]) do
      local client = leases.client(request.client_id, ia.iaid)
      local held = leases.held(kind, client)
      if held and leases.extend(kind, client, held) then
        local answer = leased_ia(kind, ia.iaid, held)
        -- what the client named and no longer holds gets lifetimes 0 (RFC 8415 18.3.4)
        for _, entry in ipairs(kind == "addresses" and ia.addresses or ia.prefixes) do
          local named = entry.address or entry.prefix
          if named ~= held then
            answer[kind][#answer[kind] + 1] = {address = entry.address, prefix = entry.prefix, length = entry.length,
                                               preferred = 0, valid = 0}
          end
        end
        result[field][#result[field] + 1] = answer
      else
        result[field][#result[field] + 1] = {iaid = ia.iaid, status = {status = STATUS.NO_BINDING, message = "no binding"}}
      end
    end
  end
  return result.ia_na, result.ia_pd
end

-- Release and Decline: each lease named is freed (declined: kept from everybody). The
-- IAs the server has no binding for, each with NoBinding (RFC 8415 18.3.7, 18.3.8).
local function free(request, declining)
  local result = {}
  for field, kind in pairs({ia_na = "addresses", ia_pd = "prefixes"}) do
    result[field] = {}
    for _, ia in ipairs(request[field]) do
      local client = leases.client(request.client_id, ia.iaid)
      local bound = leases.held(kind, client) ~= nil
      for _, entry in ipairs(kind == "addresses" and ia.addresses or ia.prefixes) do
        local text = entry.address or entry.prefix
        if declining and kind == "addresses" then leases.decline(client, text) else leases.release(kind, client, text) end
      end
      if not bound then
        result[field][#result[field] + 1] = {iaid = ia.iaid, status = {status = STATUS.NO_BINDING, message = "no binding"}}
      end
    end
  end
  return result.ia_na, result.ia_pd
end

local function dns_options(answer, request)
  answer.dns_servers = #config.dns > 0 and config.dns or nil
  answer.domains = #config.search > 0 and config.search or nil
  return answer
end

-- The answer to a request, or nil (not for us, or malformed: RFC 8415 16).
local function answer_to(request)
  local kind = request.type
  local base = {xid = request.xid, server_id = SERVER_ID, client_id = request.client_id}
  local ours = request.server_id == SERVER_ID
  if kind == M.SOLICIT then
    if not request.client_id or request.server_id then return nil end
    count("solicit")
    local commit = config.rapid_commit and request.rapid_commit
    base.ia_na, base.ia_pd = offer(request, commit)
    if commit then
      base.type, base.rapid_commit = M.REPLY, true
    else
      base.type, base.preference = M.ADVERTISE, config.preference
    end
    return dns_options(base, request)
  elseif kind == M.REQUEST or kind == M.RENEW then
    if not request.client_id or not ours then return nil end
    count(kind == M.REQUEST and "request" or "renew")
    base.type = M.REPLY
    if kind == M.REQUEST then base.ia_na, base.ia_pd = offer(request, true)
    else base.ia_na, base.ia_pd = extend(request) end
    return dns_options(base, request)
  elseif kind == M.REBIND then
    if not request.client_id or request.server_id then return nil end
    count("rebind")
    base.type = M.REPLY
    base.ia_na, base.ia_pd = extend(request)
    return dns_options(base, request)
  elseif kind == M.RELEASE or kind == M.DECLINE then
    if not request.client_id or not ours then return nil end
    count(kind == M.RELEASE and "release" or "decline")
    base.ia_na, base.ia_pd = free(request, kind == M.DECLINE)
    base.type, base.status = M.REPLY, {status = STATUS.SUCCESS, message = kind == M.RELEASE and "released" or "declined"}
    return base
  elseif kind == M.CONFIRM then
    if not request.client_id or request.server_id then return nil end
    local on_link, named = true, 0
    for _, ia in ipairs(request.ia_na) do
      for _, entry in ipairs(ia.addresses) do
        named = named + 1
        on_link = on_link and leases.in_pool("addresses", entry.address)
      end
    end
    -- no address to judge: no Reply at all (RFC 8415 18.3.3)
    if named == 0 then return nil end
    count("confirm")
    base.type = M.REPLY
    base.status = on_link and {status = STATUS.SUCCESS, message = "on link"}
                  or {status = STATUS.NOT_ON_LINK, message = "not on this link"}
    return base
  elseif kind == M.INFORMATION_REQUEST then
    -- RFC 8415 16.12: another server's, or carrying an IA, is discarded
    if (request.server_id and not ours) or #request.ia_na > 0 or #request.ia_pd > 0 then return nil end
    count("information_request")
    base.type = M.REPLY
    return dns_options(base, request)
  end
  return nil
end

tapir.on("udp", {dport = 547}, function(pkt, dev)
  local bytes = pkt:bytes()
  local tap = dev.mode ~= "tun"
  local offset = tap and 14 or 0
  if #bytes < offset + 48 or (tap and string.unpack(">I2", bytes, 13) ~= 0x86dd) then return end
  if bytes:byte(offset + 7) ~= 17 then return end   -- extension headers: not for this server
  local destination = bytes:sub(offset + 25, offset + 40)
  if destination ~= ALL_SERVERS and destination ~= LINK_LOCAL then return end
  local request = dhcpv6.decode(pkt.payload)
  local answer = request and answer_to(request)
  if not answer then
    count("ignored")
    return true
  end
  if answer.type == M.REPLY then count("reply") else count("advertise") end
  local payload = assert(dhcpv6.encode(answer))
  local datagram = tapir.build.ipv6{src = LINK_LOCAL_TEXT, dst = pkt.ipv6.src, nxt = 17,
                                    payload = tapir.build.udp{sport = 547, dport = pkt.udp.sport, payload = payload}}
  local frame = tap and tapir.build.eth{src = config.mac, dst = pkt.eth.src, type = 0x86dd} .. datagram or datagram
  dev:write(frame)
  return true
end)
