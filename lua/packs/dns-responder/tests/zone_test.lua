-- The zone-file reader (zone.lua): the RFC 1035 master-file format as BIND and NSD read
-- it, and one-line errors naming the file and line.
-- The pack's modules sit beside tests/, and this folder comes first in package.path.
package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
local zone = require "zone"
local dns = require "tapir.proto.dns"

local BIND_ZONE = [[
$ORIGIN lab.test.
$TTL 1h
@   IN  SOA ns1 hostmaster.lab.test. (
            2026010101 ; serial
            3h         ; refresh
            15M        ; retry
            1w         ; expire
            5m )       ; minimum
    IN  NS  ns1
    IN  NS  ns2.lab.test.
ns1     A   198.18.0.53
ns2 30  IN  A 198.18.0.54
_ldap._tcp  IN 600 SRV 0 100 389 ns1
txt     TXT ( "one"
              "two" ) word
esc\.aped   CNAME   @
$INCLUDE hosts.inc
after   A   198.18.0.99
]]

local HOSTS = [[
$ORIGIN hosts.lab.test.
$TTL 60
h1  A  198.18.0.71
    AAAA 2001:2:0:0::71
]]

local function by_name_type(records)
  local found = {}
  for _, rr in ipairs(records) do
    local key = rr.name .. " " .. (dns.TYPE_NAME[rr.type] or rr.type)
    found[key] = found[key] or {}
    table.insert(found[key], rr)
  end
  return found
end

local function reader(files)
  return function(name)
    if files[name] then return files[name] end
    return nil, "cannot read it: " .. name .. ": No such file or directory"
  end
end

function test_a_bind_format_zone_is_read()
  local records, problem = zone.from_file(BIND_ZONE, "lab.zone", {ttl = 300, read = reader{["hosts.inc"] = HOSTS}})
  test.equal(problem, nil)
  local found = by_name_type(records)
  local soa = found["lab.test SOA"][1]
  test.equal(soa.ttl, 3600, "$TTL 1h")
  test.equal(soa.mname, "ns1.lab.test")
  test.equal(soa.rname, "hostmaster.lab.test")
  test.equal(soa.serial, 2026010101)
  test.equal(soa.refresh, 3 * 3600)
  test.equal(soa.retry, 15 * 60)
  test.equal(soa.expire, 7 * 86400)
  test.equal(soa.minimum, 300)
  test.equal(#found["lab.test NS"], 2, "blank-led lines take the name above")
  test.equal(found["lab.test NS"][2].target, "ns2.lab.test")
  test.equal(found["ns2.lab.test A"][1].ttl, 30)
  local srv = found["_ldap._tcp.lab.test SRV"][1]
  test.equal(srv.ttl, 600, "class before TTL")
  test.equal(srv.port, 389)
  test.equal(srv.target, "ns1.lab.test")
  local txt = found["txt.lab.test TXT"][1]
  test.equal(#txt.strings, 3)
  test.equal(txt.strings[2], "two")
  test.equal(txt.strings[3], "word")
  test.equal(found["esc\\.aped.lab.test CNAME"][1].target, "lab.test")
  test.equal(found["h1.hosts.lab.test A"][1].ttl, 60, "the included file's own $ORIGIN and $TTL")
  test.equal(found["h1.hosts.lab.test AAAA"][1].address, "2001:2::71")
  test.equal(found["after.lab.test A"][1].ttl, 3600, "the including file's $ORIGIN and $TTL again after it")
end

function test_include_takes_an_origin()
  local records = assert(zone.from_file("$INCLUDE part.inc sub.lab.test.\n", "lab.zone",
                                        {ttl = 5, read = reader{["part.inc"] = "x A 198.18.0.1\n@ TXT hi\n"}}))
  test.equal(records[1].name, "x.sub.lab.test")
  test.equal(records[2].name, "sub.lab.test")
  test.equal(records[1].ttl, 5)
end

function test_ttls_take_units()
  test.equal(zone.ttl("300"), 300)
  test.equal(zone.ttl("1h30m"), 5400)
  test.equal(zone.ttl("1W2d"), 9 * 86400)
  test.equal(zone.ttl("1h30"), nil)
  test.equal(zone.ttl("h"), nil)
  test.equal(zone.ttl("4294967296"), nil)
end

function test_errors_are_one_line_with_the_file_and_line()
  local cases = {
    {"$TTL 1x\n", "lab.zone:1: $TTL needs a time"},
    {"$ORIGIN lab.test.\n\nwww A 198.18.0.300\n", "lab.zone:3: A needs an IPv4 address, got '198.18.0.300'"},
    {"$ORIGIN lab.test.\n@ SOA ns h (\n 1 2 3 4\n", "lab.zone:2: '(' that is never closed"},
    {"$ORIGIN lab.test.\nwww HINFO a b\n", "lab.zone:2: 'HINFO' is not a type"},
    {"www.lab.test. CH TXT x\n", "lab.zone:1: class CH: only IN is served"},
    {"  A 198.18.0.1\n", "lab.zone:1: no name"},
    {"$GENERATE 1-4 h$ A 198.18.0.$\n", "lab.zone:1: $GENERATE is not a directive"},
    {"x.lab.test. TXT \"open\n", "lab.zone:1: a quote that is not closed"},
    {"$INCLUDE ../etc/passwd\n", "lab.zone:1: $INCLUDE ../etc/passwd: only files inside the zone's folder"},
    {"$INCLUDE missing.inc\n", "lab.zone:1: $INCLUDE missing.inc: cannot read it"},
    {"$INCLUDE bad.inc\n", "bad.inc:2: MX needs 'PREFERENCE HOST'"},
  }
  for _, case in ipairs(cases) do
    local records, problem = zone.from_file(case[1], "lab.zone",
                                            {ttl = 300, read = reader{["bad.inc"] = "$ORIGIN x.test.\n@ MX 10\n"}})
    test.equal(records, nil)
    test.expect(problem and problem:sub(1, #case[2]) == case[2], tostring(problem) .. " should start " .. case[2])
    test.expect(not problem:find("\n"), "one line")
  end
  local _, problem = zone.from_file("$INCLUDE a.inc\n", "lab.zone", {ttl = 1, no_include = "needs --allow io"})
  test.equal(problem, "lab.zone:1: $INCLUDE a.inc: needs --allow io")
end

function test_the_records_setting_reads_the_same_format()
  local records = assert(zone.from_setting('a.lab.test A 198.18.0.1; a.lab.test 1h TXT "x; y"; '
                                           .. '198.18.0.7 PTR a.lab.test; _s._udp.lab.test SRV 1 2 3 a.lab.test', 300))
  test.equal(#records, 4)
  test.equal(records[2].ttl, 3600)
  test.equal(records[2].strings[1], "x; y")
  test.equal(records[3].name, "7.0.18.198.in-addr.arpa")
  test.equal(records[4].target, "a.lab.test")
  local _, problem = zone.from_setting("a.lab.test A 1.2.3.4; b.lab.test MX x", 300)
  test.equal(problem, "records entry 2 ('b.lab.test MX x'): MX needs 'PREFERENCE HOST'")
end
