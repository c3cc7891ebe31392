-- The "dns codec" row of scripts/bench: a DNS query decoded and its answer encoded with
-- tapir.proto.dns, again and again for $TAPIR_BENCH_SECONDS seconds (default 2), inside
-- tapir (`tapir replay`, with an instruction budget as packs run under).
-- The query is dig's (lua/tapir/tests/fixtures/dns-dig-nsd.pcap: www.example.test A, EDNS
-- with a cookie); the answer one A record and EDNS, as dns-responder writes it.
-- Prints "dns codec: N per second (COUNT in SECONDS s)", CPU time.
local dns = require "tapir.proto.dns"

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
local count, start = 0, os.clock()
repeat
  for _ = 1, 1000 do answer(dns.decode(QUERY)) end
  count = count + 1000
until os.clock() - start >= seconds
local elapsed = os.clock() - start
print(string.format("dns codec: %.0f per second (%d in %.2f s)", count / elapsed, count, elapsed))
