-- Router advertisements: three at first at most 16 s apart, then within ra_interval; an
-- answer to a solicitation; what they carry (prefix for SLAAC, M and O, lifetime, the
-- port's MTU, RDNSS and DNSSL). Port 2 is IPv4 only ('none') and advertises nothing.
local ndp = require "tapir.proto.ndp"
test.devices(2)
test.settings{ports6 = "2001:2:0:1::1/64, none", mtu = "1400", ra_interval = 30, ra_managed = true, ra_other = true,
              ra_lifetime = 900, ra_dns = "2001:2:0:1::53", ra_search = "lab.test"}

local PORT_MAC = "02:54:41:50:52:01"
local PORT_LINK_LOCAL = "fe80::54:41ff:fe50:5201"
local HOST_MAC, HOST_LINK_LOCAL = "02:00:00:00:01:05", "fe80::5"

local function advertisements(n)
  local list = {}
  for _, frame in ipairs(test.written(n or 1)) do
    local fields = test.decode(frame)
    if fields.icmpv6 and fields.icmpv6.type == 134 then list[#list + 1] = {fields = fields, message = assert(ndp.decode(frame:sub(55)))} end
  end
  return list
end

function test_the_first_advertisement_carries_the_ports_settings()
  test.advance(0)
  local sent = advertisements()
  test.equal(#sent, 1, "one at once")
  local fields, message = sent[1].fields, sent[1].message
  test.equal(fields.eth.dst, "33:33:00:00:00:01")
  test.equal(fields.eth.src, PORT_MAC)
  test.equal(fields.ipv6.src, PORT_LINK_LOCAL, "RFC 4861 4.2: from the link-local address")
  test.equal(fields.ipv6.dst, "ff02::1")
  test.equal(fields.ipv6.hlim, 255)
  test.equal(fields.icmpv6.chksum_ok, true)
  test.equal(message.managed, true)
  test.equal(message.other, true)
  test.equal(message.router_lifetime, 900)
  test.equal(message.source_lladdr, PORT_MAC)
  test.equal(message.mtu, 1400)
  test.equal(#message.prefixes, 1)
  test.equal(message.prefixes[1].prefix, "2001:2:0:1::")
  test.equal(message.prefixes[1].length, 64)
  test.equal(message.prefixes[1].autonomous, true)
  test.equal(message.prefixes[1].on_link, true)
  test.equal(message.prefixes[1].valid, 86400)
  test.equal(table.concat(message.servers, ","), "2001:2:0:1::53")
  test.equal(table.concat(message.domains, ","), "lab.test")
  test.equal(message.options[5].lifetime, 90, "RDNSS lifetime: three intervals")
  test.equal(#advertisements(2), 0, "port 2 has no IPv6")
end

function test_they_repeat_within_the_interval()
  test.advance(0)
  test.equal(#advertisements(), 1)
  local count = 0
  for _ = 1, 300 do   -- 300 s
    test.advance(1000)
    count = count + #advertisements()
  end
  -- one every 10 to 30 s: 10 to 30 in 300 s
  test.expect(count >= 10 and count <= 30, count .. " advertisements in 300 s")
end

function test_a_solicitation_is_answered_at_once_to_its_sender()
  test.advance(0)
  advertisements()
  test.inject(tapir.build.eth{src = HOST_MAC, dst = "33:33:00:00:00:02", type = 0x86dd}
              .. tapir.build.ipv6{src = HOST_LINK_LOCAL, dst = "ff02::2", nxt = 58, hlim = 255,
                                  payload = assert(ndp.encode{type = 133, source_lladdr = HOST_MAC})}, 1)
  local sent = advertisements()
  test.equal(#sent, 1)
  test.equal(sent[1].fields.eth.dst, HOST_MAC)
  test.equal(sent[1].fields.ipv6.dst, HOST_LINK_LOCAL)
  test.equal(#sent[1].message.prefixes, 1)
  test.advance(3000)
  advertisements()
  test.inject(tapir.build.eth{src = HOST_MAC, dst = "33:33:00:00:00:02", type = 0x86dd}
              .. tapir.build.ipv6{src = "::", dst = "ff02::2", nxt = 58, hlim = 255,
                                  payload = assert(ndp.encode{type = 133})}, 1)
  sent = advertisements()
  test.equal(#sent, 1)
  test.equal(sent[1].fields.ipv6.dst, "ff02::1", "from the unspecified address: to all nodes")
end

function test_multicast_answers_are_three_seconds_apart_at_least()
  -- RFC 4861 6.2.6: a multicast advertisement at most every MIN_DELAY_BETWEEN_RAS (3 s);
  -- the answer to a solicitation due sooner waits until then, and answers wait together
  test.advance(0)
  test.equal(#advertisements(), 1, "the first periodic one")
  local function solicit_from_unspecified()
    test.inject(tapir.build.eth{src = HOST_MAC, dst = "33:33:00:00:00:02", type = 0x86dd}
                .. tapir.build.ipv6{src = "::", dst = "ff02::2", nxt = 58, hlim = 255,
                                    payload = assert(ndp.encode{type = 133})}, 1)
  end
  for _ = 1, 5 do solicit_from_unspecified() end
  test.equal(#advertisements(), 0, "none within 3 s of the last")
  test.advance(2999)
  test.equal(#advertisements(), 0)
  test.advance(1)
  local sent = advertisements()
  test.equal(#sent, 1, "one for the five solicitations")
  test.equal(sent[1].fields.ipv6.dst, "ff02::1")
end
