-- The pool over time and under abuse, with the pack's default settings (253 addresses:
-- 198.18.0.1 and .3-.254; lease 3600 s): exhaustion, expiry, malformed requests.
local client = require "support.client"
local config = test.config
local SERVER_IP, SERVER_MAC = config.ip, config.mac
local POOL_SIZE = 253
local LEASE_MS = config.lease * 1000

local function mac(n)
  return string.format("02:00:00:00:%02x:%02x", n >> 8, n & 0xff)
end

local function replies()
  local list = {}
  for i, frame in ipairs(test.written()) do list[i] = client.read(test.decode(frame).payload) end
  return list
end

local function discover(n)
  test.inject(client.frame{type = 1, mac = mac(n), xid = n})
  return replies()
end

local function lease(n)
  local offers = discover(n)
  test.equal(#offers, 1, "an offer to client " .. n)
  test.inject(client.frame{type = 3, mac = mac(n), xid = n, server = SERVER_IP, requested = offers[1].yiaddr})
  local acks = replies()
  test.equal(#acks, 1, "an ack to client " .. n)
  test.equal(acks[1].type, 5)
  return acks[1].yiaddr
end

local function stats()
  test.inject(tapir.build.eth{src = mac(1), dst = SERVER_MAC, type = 0x0800}
           .. tapir.build.ip{src = "198.18.0.1", dst = SERVER_IP, proto = 17,
                             payload = tapir.build.udp{sport = 40000, dport = config.stats_port, payload = "?"}})
  local out = test.written()
  test.equal(#out, 1, "a stats reply")
  local counters = {}
  for name, value in test.decode(out[1]).payload:match("^[^\n]*"):gmatch("(%w+)=(%d+)") do
    counters[name] = tonumber(value)
  end
  return counters
end

-- Every pool address to a client of its own, 10 ms apart (so "oldest" is well defined).
local function fill_the_pool()
  local given = {}
  for n = 1, POOL_SIZE do
    local address = lease(n)
    test.expect(not given[address], address .. " given twice")
    given[address] = n
    test.advance(10)
  end
  return given
end

function test_an_exhausted_pool_offers_nothing_and_counts_it()
  local given = fill_the_pool()
  test.equal(given[SERVER_IP], nil, "the server's own address is not handed out")
  test.equal(given["198.18.0.1"], 1)
  test.equal(given["198.18.0.254"], POOL_SIZE)
  test.equal(#discover(1000), 0, "no offer once the pool is exhausted")
  test.equal(stats().exhausted, 1)
  test.equal(#discover(3), 1, "a client with a lease still gets its offer")
end

function test_expired_leases_are_reclaimed_oldest_first_and_remembered()
  fill_the_pool()
  test.advance(LEASE_MS // 2)
  test.equal(#discover(1000), 0, "halfway through the leases nothing is free")
  test.advance(LEASE_MS // 2)
  -- Every lease has run out. Client 1 comes back to its own address...
  local again = discover(1)
  test.equal(#again, 1)
  test.equal(again[1].yiaddr, "198.18.0.1", "an expired lease's client gets its address back")
  -- ...and a new client gets the address whose lease ended first of the others (client 2's).
  local new = discover(1000)
  test.equal(#new, 1, "an expired address is reclaimed for a new client")
  test.equal(new[1].yiaddr, "198.18.0.3")
end

function test_an_untaken_offer_is_held_for_a_minute()
  local offered = discover(1)[1].yiaddr
  test.equal(discover(2)[1].yiaddr == offered, false, "held for the first client")
  test.advance(61 * 1000)
  test.equal(discover(3)[1].yiaddr, offered, "free again after the hold")
end

local function request_bytes(fields)
  return client.bootp(fields)
end

function test_malformed_requests_are_counted_and_dropped()
  local good = request_bytes{type = 1, mac = mac(1)}
  local bad = {
    short = good:sub(1, 100),
    no_cookie = good:sub(1, 236),
    bad_cookie = good:sub(1, 236) .. "\99\130\83\98" .. good:sub(241),
    reply_op = "\2" .. good:sub(2),
    option_past_the_end = good:sub(1, 240) .. "\53\1\1" .. "\12\200abc",
    no_length_byte = good:sub(1, 240) .. "\53\1\1" .. "\12",
    bad_type_length = good:sub(1, 240) .. "\53\2\1\1\255",
    hlen_over_16 = good:sub(1, 2) .. "\17" .. good:sub(4),
  }
  local names = {}
  for name in pairs(bad) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    test.inject(client.frame({mac = mac(1)}, bad[name]))
    test.equal(#test.written(), 0, name .. " is dropped")
  end
  local counters = stats()
  test.equal(counters.malformed, #names, "each is counted")
  test.equal(counters.received, #names)
  -- BOOTP without a DHCP message type is not malformed, only not served.
  test.inject(client.frame({mac = mac(1)}, good:sub(1, 240) .. "\255"))
  test.equal(#test.written(), 0)
  test.equal(stats().ignored, 1)
  -- and the server goes on serving
  test.equal(#discover(1), 1)
end
