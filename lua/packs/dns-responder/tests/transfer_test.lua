-- Zone transfers (AXFR, RFC 5936) over TCP to the clients of the `transfer` setting:
-- the zone's SOA, every record, the SOA again, spread over messages of about 16 KB; IXFR
-- answered the same way (RFC 1995 4). Anyone else, UDP, or a name that is no zone's apex
-- gets none. 200 records of the `records` setting make example.test over 16 KB.
local bulk = {}
for i = 1, 200 do bulk[i] = string.format("bulk%d.example.test TXT %s%d", i, string.rep("x", 100), i) end
test.settings{transfer = "198.18.0.1, 2001:2:0:0::1", records = table.concat(bulk, "; ")}
local dns = require "tapir.proto.dns"
local tcp = require "tapir.testing.tcp"
local config = test.config
local T = dns.TYPE

local function query(id, name, qtype)
  return assert(dns.encode{id = id, questions = {{name = name, type = qtype, class = dns.CLASS.IN}}})
end

local function connect(src)
  tcp.reset()
  local peer = tcp.peer{src = src, dst = src and src:find(":") and config.ipv6 or config.ip,
                        dst_mac = config.mac, dport = config.port}
  test.expect(peer:connect(), "port " .. config.port .. " accepts")
  return peer
end

-- Every length-prefixed message the peer got, decoded.
local function messages(peer)
  for _ = 1, 50 do peer:run(10) end
  local data = peer:take(#peer.received)
  local list = {}
  while #data >= 2 do
    local length = string.unpack(">I2", data)
    list[#list + 1] = assert(dns.decode(data:sub(3, 2 + length)))
    data = data:sub(3 + length)
  end
  test.equal(#data, 0, "nothing but whole messages")
  return list
end

local function transfer(qtype, src)
  local peer = connect(src)
  peer:send(string.pack(">s2", query(0x7777, "example.test", qtype)))
  return messages(peer)
end

local function check_whole_zone(list)
  test.expect(#list >= 2, "over 16 KB of records come in more than one message: " .. #list)
  local records = {}
  for i, message in ipairs(list) do
    test.equal(message.id, 0x7777)
    test.equal(message.aa, true)
    test.equal(message.rcode, dns.RCODE.NOERROR)
    test.equal(#message.questions, i == 1 and 1 or 0, "the question in the first message only")
    for _, rr in ipairs(message.answers) do records[#records + 1] = rr end
  end
  test.equal(records[1].type, T.SOA, "the SOA first")
  test.equal(records[#records].type, T.SOA, "and last")
  test.equal(records[1].serial, 2026010101)
  local soas, seen = 0, {}
  for _, rr in ipairs(records) do
    if rr.type == T.SOA then soas = soas + 1 end
    seen[rr.name .. " " .. rr.type] = true
  end
  test.equal(soas, 2, "the SOA twice, nothing else of its")
  test.expect(seen["www.example.test " .. T.A] and seen["www.example.test " .. T.AAAA], "www's A and AAAA")
  test.expect(seen["_sip._udp.example.test " .. T.SRV] and seen["alias.example.test " .. T.CNAME], "SRV, CNAME")
  test.expect(seen["bulk1.example.test " .. T.TXT] and seen["bulk200.example.test " .. T.TXT], "the settings' records")
  test.expect(not seen["2.0.18.198.in-addr.arpa " .. T.PTR], "no record of another zone")
  return records
end

function test_an_allowed_client_gets_the_whole_zone_soa_first_and_last()
  local records = check_whole_zone(transfer(T.AXFR))
  -- 200 bulk TXT + the example zone's own
  test.expect(#records > 220, #records .. " records")
end

function test_ixfr_is_answered_with_the_whole_zone()
  check_whole_zone(transfer(T.IXFR))
end

function test_an_allowed_ipv6_client_given_in_another_spelling_gets_it()
  check_whole_zone(transfer(T.AXFR, "2001:2::1"))
end

function test_a_client_not_named_is_refused()
  local list = transfer(T.AXFR, "198.18.0.7")
  test.equal(#list, 1)
  test.equal(list[1].rcode, dns.RCODE.REFUSED)
  test.equal(#list[1].answers, 0)
end

function test_a_name_that_is_no_zones_apex_gets_notauth()
  local peer = connect()
  peer:send(string.pack(">s2", query(5, "www.example.test", T.AXFR)))
  local list = messages(peer)
  test.equal(#list, 1)
  test.equal(list[1].rcode, dns.RCODE.NOTAUTH)
end

function test_axfr_over_udp_is_refused_even_to_an_allowed_client()
  test.inject(tapir.build.eth{src = "02:00:00:00:00:01", dst = config.mac, type = 0x0800}
    .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 17,
                      payload = tapir.build.udp{sport = 4000, dport = config.port,
                                                payload = query(9, "example.test", T.AXFR)}})
  local out = test.written()
  test.equal(#out, 1)
  test.equal(assert(dns.decode(test.decode(out[1]).payload)).rcode, dns.RCODE.REFUSED)
end

-- A child zone served beside its parent: the parent's transfer holds the delegation (the
-- child apex's NS records) and the glue for name servers inside the cut, not the child's
-- other records (RFC 5936 3.2, RFC 1034 4.2.1), asked of zones.lua directly.
function test_a_parent_zone_transfer_holds_the_delegation_and_glue_of_a_child_zone()
  -- The pack's modules sit beside tests/ (as zone_test.lua reaches them).
  package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
  local zones = require "zones"
  local records = {
    {name = "lab.test", type = T.SOA, class = 1, ttl = 60, mname = "ns.lab.test", rname = "h.lab.test",
     serial = 1, refresh = 1, retry = 1, expire = 1, minimum = 1},
    {name = "lab.test", type = T.NS, class = 1, ttl = 60, target = "ns.lab.test"},
    {name = "ns.lab.test", type = T.A, class = 1, ttl = 60, address = "198.18.0.2"},
    {name = "kid.lab.test", type = T.SOA, class = 1, ttl = 60, mname = "ns.kid.lab.test", rname = "h.lab.test",
     serial = 1, refresh = 1, retry = 1, expire = 1, minimum = 1},
    {name = "kid.lab.test", type = T.NS, class = 1, ttl = 60, target = "ns.kid.lab.test"},
    {name = "ns.kid.lab.test", type = T.A, class = 1, ttl = 60, address = "198.18.0.3"},
    {name = "www.kid.lab.test", type = T.A, class = 1, ttl = 60, address = "198.18.0.4"},
  }
  local db = assert(zones.build(records, {synthesize_ptr = false, soa = "ns h 1 1 1 1 1", ttl = 60}))
  local seen = {}
  for _, rr in ipairs(db:transfer("lab.test")) do seen[#seen + 1] = rr.name .. " " .. dns.TYPE_NAME[rr.type] end
  table.sort(seen)
  test.equal(table.concat(seen, ", "), "kid.lab.test NS, lab.test NS, lab.test SOA, lab.test SOA, "
                                       .. "ns.kid.lab.test A, ns.lab.test A")
  local child = {}
  for _, rr in ipairs(db:transfer("kid.lab.test")) do child[#child + 1] = rr.name .. " " .. dns.TYPE_NAME[rr.type] end
  table.sort(child)
  test.equal(table.concat(child, ", "), "kid.lab.test NS, kid.lab.test SOA, kid.lab.test SOA, "
                                        .. "ns.kid.lab.test A, www.kid.lab.test A")
end
