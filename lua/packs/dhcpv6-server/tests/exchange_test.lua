-- The exchange with a scripted client on the memory device: Solicit/Advertise,
-- Request/Reply, Rapid Commit, Renew, Rebind, Release, Decline, Confirm,
-- Information-request, and what is ignored. Default settings but for DNS options and a
-- four-address pool with two /64s to delegate.
local dhcpv6 = require "tapir.proto.dhcpv6"
test.settings{dns = "2001:2::53", search = "lab.test", pool = "2001:2::1000-2001:2::1003",
              prefixes = "2001:2:0:100::/63"}

local SERVER_MAC = "02:54:41:50:44:36"
local SERVER_LINK_LOCAL = "fe80::54:41ff:fe50:4436"
local SERVER_ID = assert(dhcpv6.duid_ll(SERVER_MAC))

local function client(n)
  local mac = string.format("02:00:00:00:d6:%02x", n)
  return {mac = mac, link_local = string.format("fe80::%x", n), duid = assert(dhcpv6.duid_ll(mac)), xid = 0x100 + n}
end

-- Sends a message from `c` (fields merged over its ids) and returns the decoded answer, or nil.
local function exchange(c, fields, to)
  local message = {xid = c.xid, client_id = c.duid, elapsed_time = 0}
  for key, value in pairs(fields) do message[key] = value end
  c.xid = c.xid + 1
  test.inject(tapir.build.eth{src = c.mac, dst = to and SERVER_MAC or "33:33:00:01:00:02", type = 0x86dd}
              .. tapir.build.ipv6{src = c.link_local, dst = to or "ff02::1:2", nxt = 17,
                                  payload = tapir.build.udp{sport = 546, dport = 547, payload = assert(dhcpv6.encode(message))}})
  local out = test.written()
  if #out == 0 then return nil end
  test.equal(#out, 1, "one answer")
  local fields_out = test.decode(out[1])
  test.equal(fields_out.eth.dst, c.mac)
  test.equal(fields_out.eth.src, SERVER_MAC)
  test.equal(fields_out.ipv6.src, SERVER_LINK_LOCAL)
  test.equal(fields_out.ipv6.dst, c.link_local)
  test.equal(fields_out.udp.dport, 546)
  test.equal(fields_out.udp.chksum_ok, true)
  local answer = assert(dhcpv6.decode(fields_out.payload))
  test.equal(answer.xid, message.xid, "the transaction id echoed")
  test.equal(answer.client_id, c.duid)
  return answer
end

local IA_NA = {{iaid = 1}}
local IA_PD = {{iaid = 2}}

local function lease(c)
  local advertise = assert(exchange(c, {type = dhcpv6.SOLICIT, ia_na = IA_NA, ia_pd = IA_PD}))
  return assert(exchange(c, {type = dhcpv6.REQUEST, server_id = advertise.server_id, ia_na = advertise.ia_na,
                             ia_pd = advertise.ia_pd}))
end

function test_solicit_advertises_an_address_a_prefix_and_dns()
  local advertise = assert(exchange(client(1), {type = dhcpv6.SOLICIT, ia_na = IA_NA, ia_pd = IA_PD, oro = {23, 24}}))
  test.equal(advertise.type, dhcpv6.ADVERTISE)
  test.equal(advertise.server_id, SERVER_ID)
  test.equal(advertise.preference, 255)
  local address = advertise.ia_na[1].addresses[1]
  test.equal(advertise.ia_na[1].iaid, 1)
  test.equal(address.address, "2001:2::1000")
  test.equal(address.preferred, 1800)
  test.equal(address.valid, 3600)
  test.equal(advertise.ia_na[1].t1, 900)
  test.equal(advertise.ia_na[1].t2, 1440)
  test.equal(advertise.ia_pd[1].prefixes[1].prefix, "2001:2:0:100::")
  test.equal(advertise.ia_pd[1].prefixes[1].length, 64)
  test.equal(advertise.dns_servers[1], "2001:2::53")
  test.equal(advertise.domains[1], "lab.test")
  local other = assert(exchange(client(2), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1000", "an Advertise binds nothing")
end

function test_request_binds_and_others_get_the_next_ones()
  local reply = lease(client(1))
  test.equal(reply.type, dhcpv6.REPLY)
  test.equal(reply.ia_na[1].addresses[1].address, "2001:2::1000")
  test.equal(reply.ia_pd[1].prefixes[1].prefix, "2001:2:0:100::")
  local second = lease(client(2))
  test.equal(second.ia_na[1].addresses[1].address, "2001:2::1001")
  test.equal(second.ia_pd[1].prefixes[1].prefix, "2001:2:0:101::")
  local third = lease(client(3))
  test.equal(third.ia_na[1].addresses[1].address, "2001:2::1002")
  test.equal(third.ia_pd[1].status.status, dhcpv6.STATUS.NO_PREFIX_AVAIL, "two /64s in a /63")
  local again = lease(client(1))
  test.equal(again.ia_na[1].addresses[1].address, "2001:2::1000", "a client keeps its lease")
end

function test_rapid_commit_binds_at_once()
  local reply = assert(exchange(client(1), {type = dhcpv6.SOLICIT, ia_na = IA_NA, rapid_commit = true}))
  test.equal(reply.type, dhcpv6.REPLY)
  test.equal(reply.rapid_commit, true)
  test.equal(reply.ia_na[1].addresses[1].address, "2001:2::1000")
  local other = assert(exchange(client(2), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1001", "bound by the rapid commit")
end

function test_renew_and_rebind_extend_and_unknown_ias_get_no_binding()
  local c = client(1)
  local reply = lease(c)
  test.advance(3000 * 1000)   -- 50 minutes of a 60-minute lease
  local renewed = assert(exchange(c, {type = dhcpv6.RENEW, server_id = SERVER_ID, ia_na = reply.ia_na, ia_pd = reply.ia_pd}))
  test.equal(renewed.type, dhcpv6.REPLY)
  test.equal(renewed.ia_na[1].addresses[1].address, "2001:2::1000")
  test.equal(renewed.ia_na[1].addresses[1].valid, 3600)
  test.advance(3000 * 1000)   -- past the first lease's end: the renewal holds it
  local other = assert(exchange(client(2), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1001")
  local rebound = assert(exchange(c, {type = dhcpv6.REBIND, ia_na = reply.ia_na}))
  test.equal(rebound.ia_na[1].addresses[1].address, "2001:2::1000")
  local unknown = assert(exchange(client(3), {type = dhcpv6.RENEW, server_id = SERVER_ID,
                                              ia_na = {{iaid = 1, addresses = {{address = "2001:2::1003"}}}}}))
  test.equal(unknown.ia_na[1].status.status, dhcpv6.STATUS.NO_BINDING)
end

function test_a_lease_not_renewed_runs_out()
  lease(client(1))
  test.advance(3601 * 1000)
  local other = assert(exchange(client(2), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1000", "free again after the valid lifetime")
end

function test_release_frees_and_decline_keeps_from_everybody()
  local c = client(1)
  local reply = lease(c)
  local released = assert(exchange(c, {type = dhcpv6.RELEASE, server_id = SERVER_ID, ia_na = reply.ia_na,
                                       ia_pd = reply.ia_pd}))
  test.equal(released.status.status, dhcpv6.STATUS.SUCCESS)
  local other = lease(client(2))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1000", "released: given to the next client")
  test.equal(other.ia_pd[1].prefixes[1].prefix, "2001:2:0:100::")
  local declined = assert(exchange(client(2), {type = dhcpv6.DECLINE, server_id = SERVER_ID, ia_na = other.ia_na}))
  test.equal(declined.status.status, dhcpv6.STATUS.SUCCESS)
  local third = assert(exchange(client(3), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(third.ia_na[1].addresses[1].address, "2001:2::1001", "a declined address is given to nobody")
end

function test_confirm_and_information_request()
  local on = assert(exchange(client(1), {type = dhcpv6.CONFIRM,
                                         ia_na = {{iaid = 1, addresses = {{address = "2001:2::1002"}}}}}))
  test.equal(on.status.status, dhcpv6.STATUS.SUCCESS)
  local off = assert(exchange(client(1), {type = dhcpv6.CONFIRM,
                                          ia_na = {{iaid = 1, addresses = {{address = "2001:2:5::1"}}}}}))
  test.equal(off.status.status, dhcpv6.STATUS.NOT_ON_LINK)
  local info = assert(exchange(client(1), {type = dhcpv6.INFORMATION_REQUEST}))
  test.equal(info.type, dhcpv6.REPLY)
  test.equal(info.dns_servers[1], "2001:2::53")
  test.equal(#info.ia_na, 0)
  local unicast = assert(exchange(client(1), {type = dhcpv6.INFORMATION_REQUEST}, SERVER_LINK_LOCAL))
  test.equal(unicast.domains[1], "lab.test", "to the server's link-local address too")
end

function test_what_is_not_for_this_server_is_ignored()
  local c = client(1)
  test.equal(exchange(c, {type = dhcpv6.REQUEST, server_id = "\0\3\0\1\2\0\0\0\0\9", ia_na = IA_NA}), nil,
             "a Request to another server")
  test.equal(exchange(c, {type = dhcpv6.SOLICIT, server_id = SERVER_ID, ia_na = IA_NA}), nil,
             "a Solicit naming a server (RFC 8415 16.2)")
  test.equal(exchange(c, {type = dhcpv6.RENEW, ia_na = IA_NA}), nil, "a Renew without the server id")
  test.equal(exchange(c, {type = dhcpv6.ADVERTISE}), nil, "a server's message")
  test.inject(tapir.build.eth{src = c.mac, dst = "33:33:00:01:00:02", type = 0x86dd}
              .. tapir.build.ipv6{src = c.link_local, dst = "ff02::1:2", nxt = 17,
                                  payload = tapir.build.udp{sport = 546, dport = 547, payload = "\1\0"}})
  test.equal(#test.written(), 0, "a malformed message")
end

function test_confirm_without_addresses_is_not_answered()
  -- RFC 8415 18.3.3: no addresses in any IA, no Reply (the server cannot say the client is on link)
  test.equal(exchange(client(1), {type = dhcpv6.CONFIRM}), nil, "a Confirm with no IA")
  test.equal(exchange(client(1), {type = dhcpv6.CONFIRM, ia_na = {{iaid = 1}}}), nil, "a Confirm with an empty IA")
end

function test_information_request_with_an_ia_is_ignored()
  -- RFC 8415 16.12: an Information-request carrying an IA option is discarded
  test.equal(exchange(client(1), {type = dhcpv6.INFORMATION_REQUEST, ia_na = IA_NA}), nil)
end

function test_release_and_decline_of_what_is_not_held_say_no_binding()
  -- RFC 8415 18.3.7 and 18.3.8: an IA the server has no binding for comes back with NoBinding
  local c = client(1)
  local reply = lease(c)
  local released = assert(exchange(c, {type = dhcpv6.RELEASE, server_id = SERVER_ID,
                                       ia_na = {reply.ia_na[1], {iaid = 7, addresses = {{address = "2001:2::1003"}}}}}))
  test.equal(released.status.status, dhcpv6.STATUS.SUCCESS)
  test.equal(#released.ia_na, 1, "only the IA not held is named")
  test.equal(released.ia_na[1].iaid, 7)
  test.equal(released.ia_na[1].status.status, dhcpv6.STATUS.NO_BINDING)
  local declined = assert(exchange(client(2), {type = dhcpv6.DECLINE, server_id = SERVER_ID,
                                               ia_na = {{iaid = 1, addresses = {{address = "2001:2::1002"}}}}}))
  test.equal(declined.ia_na[1].status.status, dhcpv6.STATUS.NO_BINDING)
  local other = assert(exchange(client(3), {type = dhcpv6.SOLICIT, ia_na = IA_NA}))
  test.equal(other.ia_na[1].addresses[1].address, "2001:2::1000", "the released address is free again")
end
