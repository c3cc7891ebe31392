-- The DHCP exchanges on the wire, with the pack's default settings (server 198.18.0.2/24,
-- pool 198.18.0.1 and .3-.254, lease 3600 s, no router, DNS or domain).
local client = require "support.client"
local config = test.config
local SERVER_IP, SERVER_MAC = config.ip, config.mac
local A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"

-- The one frame written since the last call: its DHCP reply read (if UDP), decoded.
local function only_reply(why)
  local out = test.written()
  test.equal(#out, 1, why or "one frame written")
  local frame = test.decode(out[1])
  return frame.udp and client.read(frame.payload), frame, out[1]
end

local function nothing_written(why)
  test.equal(#test.written(), 0, why or "nothing written")
end

local function send(fields)
  test.inject(client.frame(fields))
end

-- DISCOVER and REQUEST (selecting); returns the address acknowledged.
local function lease(mac, extra)
  local fields = {type = 1, mac = mac}
  for k, v in pairs(extra or {}) do fields[k] = v end
  send(fields)
  local offer = only_reply("an offer to " .. mac)
  test.equal(offer.type, 2, "OFFER")
  fields.type, fields.server, fields.requested = 3, SERVER_IP, offer.yiaddr
  send(fields)
  local ack = only_reply("an ack to " .. mac)
  test.equal(ack.type, 5, "ACK")
  test.equal(ack.yiaddr, offer.yiaddr)
  return ack.yiaddr
end

local function stats()
  test.inject(tapir.build.eth{src = A, dst = SERVER_MAC, type = 0x0800}
           .. tapir.build.ip{src = "198.18.0.1", dst = SERVER_IP, proto = 17,
                             payload = tapir.build.udp{sport = 40000, dport = config.stats_port, payload = "?"}})
  local out = test.written()
  test.equal(#out, 1, "a stats reply")
  return test.decode(out[1]).payload
end

-- The reply a server sends, byte for byte: fixed fields, then options 53, 54, 51, 58, 59,
-- 1, end, zero padding to 300 bytes.
local function expected_reply(message_type, yiaddr_hex)
  return client.unhex([[
    02 01 06 00  12 34 56 78  00 00 00 00
    00 00 00 00 ]] .. yiaddr_hex .. [[ 00 00 00 00  00 00 00 00
    02 00 00 00 00 0a  00 00 00 00 00 00 00 00 00 00]])
    .. string.rep("\0", 192)
    .. client.unhex("63 82 53 63  35 01 " .. message_type .. [[
      36 04 c6 12 00 02  33 04 00 00 0e 10  3a 04 00 00 07 08  3b 04 00 00 0c 4e
      01 04 ff ff ff 00  ff]])
    .. string.rep("\0", 26)
end

function test_discover_request_offer_ack_byte_for_byte()
  send{type = 1, mac = A}
  local offer, frame, bytes = only_reply("an offer")
  test.equal(frame.eth.src, SERVER_MAC)
  test.equal(frame.eth.dst, A, "unicast to the client's MAC: it has no address and no broadcast flag")
  test.equal(frame.ip.src, SERVER_IP)
  test.equal(frame.ip.dst, "198.18.0.1", "to the address offered")
  test.equal(frame.udp.sport, 67)
  test.equal(frame.udp.dport, 68)
  test.equal(client.hex(frame.payload), client.hex(expected_reply("02", "c6 12 00 01")))
  test.equal(#bytes, 14 + 20 + 8 + 300)

  send{type = 3, mac = A, server = SERVER_IP, requested = offer.yiaddr}
  local _, ack_frame = only_reply("an ack")
  test.equal(ack_frame.eth.dst, A)
  test.equal(ack_frame.ip.dst, "198.18.0.1")
  test.equal(client.hex(ack_frame.payload), client.hex(expected_reply("05", "c6 12 00 01")))
end

function test_the_broadcast_flag_gets_broadcast_replies()
  send{type = 1, mac = A, flags = 0x8000}
  local offer, frame = only_reply()
  test.equal(frame.eth.dst, "ff:ff:ff:ff:ff:ff")
  test.equal(frame.ip.dst, "255.255.255.255")
  test.equal(offer.flags, 0x8000, "flags are copied")
end

function test_renewing_and_rebinding_keep_the_address_and_are_answered_at_it()
  local address = lease(A)
  -- renewing: the client's kernel asks ARP for the server, then sends unicast
  test.inject(tapir.build.eth{src = A, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
           .. tapir.build.arp{op = 1, sha = A, spa = address, tha = "00:00:00:00:00:00", tpa = SERVER_IP})
  local _, arp = only_reply()
  test.equal(arp.arp.op, 2)
  test.equal(arp.arp.sha, SERVER_MAC)
  send{type = 3, mac = A, ciaddr = address, dst = SERVER_IP, eth_dst = SERVER_MAC, xid = 7}
  local ack, frame = only_reply("a renewal's ack")
  test.equal(ack.type, 5)
  test.equal(ack.yiaddr, address)
  test.equal(ack.ciaddr, address)
  test.equal(ack.xid, 7)
  test.equal(frame.ip.dst, address, "unicast to ciaddr")
  test.equal(frame.eth.dst, A)
  test.equal(client.u32(ack.options[51]), 3600)
  -- rebinding: the same, broadcast
  send{type = 3, mac = A, ciaddr = address}
  test.equal(only_reply("a rebinding's ack").yiaddr, address)
end

function test_a_discover_after_a_lease_offers_the_same_address()
  local address = lease(A)
  lease(B)
  send{type = 1, mac = A, xid = 99}
  test.equal(only_reply().yiaddr, address)
end

function test_the_client_identifier_is_the_lease_key()
  local address = lease(A, {client_id = "\1\2\0\0\0\0\10"})
  -- the same client id from another MAC (a second network card) keeps the lease
  send{type = 1, mac = B, client_id = "\1\2\0\0\0\0\10"}
  local offer = only_reply()
  test.equal(offer.yiaddr, address)
  test.equal(offer.options[61], "\1\2\0\0\0\0\10", "the client identifier is echoed (RFC 6842)")
  -- the MAC without that client id is another client
  send{type = 1, mac = A}
  local other = only_reply().yiaddr
  test.expect(other ~= address, "a different client gets a different address, got " .. other)
end

function test_init_reboot_is_acknowledged_for_a_free_address()
  send{type = 3, mac = A, requested = "198.18.0.77"}
  local ack, frame = only_reply()
  test.equal(ack.type, 5)
  test.equal(ack.yiaddr, "198.18.0.77")
  test.equal(frame.ip.dst, "198.18.0.77")
end

function test_a_requested_address_in_a_discover_is_offered()
  send{type = 1, mac = A, requested = "198.18.0.150"}
  test.equal(only_reply().yiaddr, "198.18.0.150")
end

local function expect_nak(why)
  local nak, frame = only_reply(why)
  test.equal(nak.type, 6, why .. ": NAK")
  test.equal(nak.yiaddr, "0.0.0.0")
  test.equal(client.ip_text(nak.options[54], 1), SERVER_IP, "server identifier")
  test.equal(nak.options[51], nil, "no lease time in a NAK")
  test.equal(frame.ip.dst, "255.255.255.255", "a NAK is broadcast")
  test.equal(frame.eth.dst, "ff:ff:ff:ff:ff:ff")
  return nak.options[56]
end

function test_a_foreign_address_gets_a_nak()
  send{type = 3, mac = A, requested = "10.1.2.3"}
  local text = expect_nak("another subnet")
  test.expect(text and text:find("subnet"), "the NAK says why: " .. tostring(text))
  send{type = 3, mac = A, ciaddr = "192.0.2.7", src = "192.0.2.7"}
  expect_nak("renewing an address of another subnet")
end

function test_an_address_taken_or_not_ours_gets_a_nak()
  local address = lease(A)
  send{type = 3, mac = B, requested = address}
  test.expect(expect_nak("taken"):find("another client"), "says it is taken")
  send{type = 3, mac = B, requested = SERVER_IP}
  test.expect(expect_nak("the server's own"):find("pool"), "says it is not in the pool")
  send{type = 3, mac = B, requested = "198.18.0.255"}
  expect_nak("the broadcast address")
end

function test_choosing_another_server_frees_the_offer()
  send{type = 1, mac = A}
  local offered = only_reply().yiaddr
  send{type = 3, mac = A, server = "198.18.0.9", requested = offered}
  nothing_written("no answer to a request meant for another server")
  send{type = 1, mac = B}
  test.equal(only_reply().yiaddr, offered)
end

function test_a_client_that_released_gets_its_previous_address_back()
  local first = lease(A)
  local second = lease(B)
  test.expect(first ~= second, "two clients, two addresses")
  send{type = 7, mac = A, ciaddr = first, src = first, dst = SERVER_IP, eth_dst = SERVER_MAC, server = SERVER_IP}
  nothing_written("a release is not answered")
  test.expect(stats():find("lease " .. first .. " " .. A .. " released 0", 1, true), "kept as A's")
  local third = lease(C)
  test.expect(third ~= first, "a new client gets a never-leased address while there is one, not A's: " .. third)
  test.equal(lease(A), first, "A asks again (no requested address) and gets its previous one (RFC 2131 4.3.1)")
end

function test_a_released_address_goes_to_others_only_when_nothing_else_is_free()
  -- every other address of the pool taken: the released one is the only one left
  local first = lease(A)
  send{type = 7, mac = A, ciaddr = first, src = first, dst = SERVER_IP, eth_dst = SERVER_MAC, server = SERVER_IP}
  for i = 1, 252 do lease(string.format("02:00:00:00:01:%02x", i)) end
  test.equal(lease(C), first, "free, so given")
  send{type = 1, mac = A}
  test.equal(#test.written(), 0, "nothing left to offer A")
end

function test_decline_keeps_the_address_from_everyone_for_a_while()
  local declined = lease(A)
  send{type = 4, mac = A, requested = declined, server = SERVER_IP}
  nothing_written("a decline is not answered")
  local other = lease(B)
  test.expect(other ~= declined, "a declined address is not offered")
  send{type = 3, mac = C, requested = declined}
  expect_nak("requesting a declined address")
  test.advance(10 * 60 * 1000 + 1000)
  send{type = 1, mac = C}
  test.equal(only_reply().yiaddr, declined, "offered again once the hold is over")
end

function test_inform_gets_an_ack_without_an_address()
  send{type = 8, mac = A, ciaddr = "198.18.0.200", src = "198.18.0.200", dst = SERVER_IP, eth_dst = SERVER_MAC}
  local ack, frame = only_reply()
  test.equal(ack.type, 5)
  test.equal(ack.yiaddr, "0.0.0.0")
  test.equal(ack.ciaddr, "198.18.0.200")
  test.equal(frame.ip.dst, "198.18.0.200")
  test.equal(frame.eth.dst, A)
  test.equal(ack.options[51], nil, "no lease time")
  test.equal(ack.options[58], nil, "no T1")
  test.equal(client.u32(ack.options[1]), 0xffffff00, "the subnet mask")
  test.equal(client.ip_text(ack.options[54], 1), SERVER_IP)
  lease(B)  -- and no lease was made: the pool still starts at its first address
  send{type = 1, mac = C}
  test.equal(only_reply().yiaddr, "198.18.0.3")
end

function test_a_relayed_request_is_answered_to_the_relay()
  send{type = 1, mac = A, giaddr = "198.18.0.254", src = "198.18.0.254", dst = SERVER_IP, eth_dst = SERVER_MAC,
       sport = 67}
  local offer, frame = only_reply()
  test.equal(offer.giaddr, "198.18.0.254")
  test.equal(frame.ip.dst, "198.18.0.254")
  test.equal(frame.udp.dport, 67)
  send{type = 1, mac = B, giaddr = "192.0.2.1", src = "192.0.2.1", dst = SERVER_IP, eth_dst = SERVER_MAC, sport = 67}
  nothing_written("another subnet's relay")
end

function test_requests_to_another_server_address_are_left_alone()
  send{type = 1, mac = A, src = "198.18.0.40", dst = "198.18.0.9", eth_dst = "02:00:00:00:00:99"}
  nothing_written()
end

function test_ping_to_the_server_is_answered()
  test.inject(tapir.build.eth{src = A, dst = SERVER_MAC, type = 0x0800}
           .. tapir.build.ip{src = "198.18.0.1", dst = SERVER_IP, proto = 1,
                             payload = tapir.build.icmp{type = 8, id = 3, seq = 4, payload = "ping"}})
  local _, reply = only_reply()
  test.equal(reply.icmp.type, 0)
  test.equal(reply.payload, "ping")
end

function test_the_stats_port_counts_and_lists_leases()
  local address = lease(A)
  local text = stats()
  test.expect(text:find("discover=1 offer=1 request=1 ack=1 nak=0", 1, true), text)
  test.expect(text:find("lease " .. address .. " " .. A .. " bound 3600", 1, true), text)
end

-- Options 3, 6 and 15 are sent exactly when set (none by default; run with
-- --set router=... --set dns=...,... --set domain=... to see them filled).
function test_router_dns_and_domain_follow_the_settings()
  local function list(addresses)
    local parts = {}
    for i, text in ipairs(addresses) do
      local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
      parts[i] = string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
    end
    return #parts > 0 and table.concat(parts) or nil
  end
  send{type = 1, mac = A}
  local offer = only_reply()
  test.equal(offer.options[3], list(config.router), "option 3")
  test.equal(offer.options[6], list(config.dns), "option 6")
  test.equal(offer.options[15], config.domain ~= "" and config.domain or nil, "option 15")
end
