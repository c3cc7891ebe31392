-- The "dns codec" row of scripts/bench: a DNS query decoded and its answer encoded with
-- tapir.proto.dns, again and again for $TAPIR_BENCH_SECONDS seconds (default 2), inside
-- tapir (`tapir replay`, with an instruction budget as packs run under), in host calls as
-- short as a pack's handler calls: timer callbacks of BATCH answers each (a fraction of a
-- millisecond), each scheduling the next at once (a replay's clock runs them in a row).
-- The query is dig's (lua/tapir/tests/fixtures/dns-dig-nsd.pcap: www.example.test A, EDNS
-- with a cookie); the answer one A record and EDNS, as dns-responder writes it.
-- Prints "dns codec: N per second (COUNT in SECONDS s)", CPU time. With TAPIR_BENCH_DNS_LUA=1
-- the module runs without its C core (Sources/CLua/clua_dns.c): its Lua code alone, as in
-- plain lua5.4.
if os.getenv("TAPIR_BENCH_DNS_LUA") == "1" then package.preload["tapir.proto.dns_native"] = nil end
local dns = require "tapir.proto.dns"
assert(dns.NATIVE == (os.getenv("TAPIR_BENCH_DNS_LUA") ~= "1"))

local QUERY = "\220\243\0\32\0\1\0\0\0\0\0\1\3www\7example\4test\0\0\1\0\1"
  .. "\0\0\41\4\208\0\0\0\0\0\12\0\10\0\8\1\2\3\4\5\6\7\8"
local seconds = tonumber(os.getenv("TAPIR_BENCH_SECONDS") or "") or 2

local function answer(query)
  local question = query.questions[1]
  return dns.encode{id = query.id, qr = true, aa = true, rd = query.rd, questions = query.questions,
                    answers = {{name = question.name, type = dns.TYPE.A, class = dns.CLASS.IN, ttl = 3600,
                                address = "198.18.5.80"}},
                    edns = query.edns and {udp_size = 1232}}
end

assert(dns.decode(assert(answer(assert(dns.decode(QUERY))))).answers[1].address == "198.18.5.80")
local BATCH = 100
local count, start = 0, nil
local function batch()
  start = start or os.clock()
  for _ = 1, BATCH do answer(dns.decode(QUERY)) end
  count = count + BATCH
  local elapsed = os.clock() - start
  if elapsed < seconds then
    tapir.after(0, batch)
  else
    print(string.format("dns codec: %.0f per second (%d in %.2f s)", count / elapsed, count, elapsed))
  end
end
tapir.after(0, batch)
