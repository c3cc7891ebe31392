-- DNS over TCP (RFC 7766): two-byte lengths, several queries a connection, no truncation
-- but the length's, an idle timeout. The client is the scripted TCP peer, the messages
-- tapir.proto.dns's (tested against literal bytes in proto_dns_test.lua).
test.settings{tcp_idle = 2000}
local dns = require "tapir.proto.dns"
local tcp = require "tapir.testing.tcp"
local config = test.config

local function query(id, name, qtype, edns)
  return assert(dns.encode{id = id, rd = true, questions = {{name = name, type = qtype, class = dns.CLASS.IN}},
                           edns = edns})
end

local function connect()
  tcp.reset()
  local peer = tcp.peer{dst = config.ip, dst_mac = config.mac, dport = config.port}
  test.expect(peer:connect(), "port " .. config.port .. " accepts")
  return peer
end

-- The next length-prefixed message the peer got, decoded.
local function answer(peer)
  local whole = peer:read_until(function(data)
    return #data >= 2 and #data >= 2 + string.unpack(">I2", data) and 2 + string.unpack(">I2", data)
  end)
  test.expect(whole, "a whole message came")
  local message = peer:take(whole):sub(3)
  return assert(dns.decode(message))
end

function test_a_query_over_tcp_gets_its_answer_length_prefixed()
  local peer = connect()
  test.equal(peer.syn_ack.flags, 0x12)
  peer:send(string.pack(">s2", query(0x4242, "www.example.test", dns.TYPE.A)))
  local reply = answer(peer)
  test.equal(reply.id, 0x4242)
  test.equal(reply.qr, true)
  test.equal(reply.aa, true)
  test.equal(reply.answers[1].address, "198.18.0.9")
  test.equal(peer.fin, false, "the connection stays open for more")
end

function test_queries_one_after_another_and_in_one_segment_are_answered_in_turn()
  local peer = connect()
  peer:send(string.pack(">s2", query(1, "www.example.test", dns.TYPE.A)))
  test.equal(answer(peer).id, 1)
  peer:send(string.pack(">s2", query(2, "www.example.test", dns.TYPE.AAAA))
            .. string.pack(">s2", query(3, "nowhere.example.test", dns.TYPE.A)))
  local second, third = answer(peer), answer(peer)
  test.equal(second.id, 2)
  test.equal(second.answers[1].type, dns.TYPE.AAAA)
  test.equal(third.id, 3)
  test.equal(third.rcode, dns.RCODE.NXDOMAIN)
  -- a length split across segments
  local bytes = string.pack(">s2", query(4, "www.example.test", dns.TYPE.A))
  peer:send(bytes:sub(1, 1))
  peer:run(5)
  peer:send(bytes:sub(2))
  test.equal(answer(peer).id, 4)
end

function test_an_answer_truncated_over_udp_comes_whole_over_tcp()
  test.inject(tapir.build.eth{src = "02:00:00:00:00:01", dst = config.mac, type = 0x0800}
    .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 17,
                      payload = tapir.build.udp{sport = 4000, dport = config.port,
                                                payload = query(7, "big.example.test", dns.TYPE.TXT)}})
  local out = test.written()
  test.equal(#out, 1)
  local udp = assert(dns.decode(test.decode(out[1]).payload))
  test.equal(udp.tc, true, "over 512 bytes: TC")
  test.equal(#udp.answers, 0)

  local peer = connect()
  peer:send(string.pack(">s2", query(7, "big.example.test", dns.TYPE.TXT)))
  local reply = answer(peer)
  test.equal(reply.tc, false)
  test.equal(#reply.answers, 8, "all eight strings")
  test.equal(reply.answers[8].strings[1]:sub(1, 6), "big-8-")
end

function test_a_malformed_message_is_dropped_and_the_next_answered()
  local peer = connect()
  peer:send(string.pack(">s2", "\1\2\3") .. string.pack(">s2", query(9, "www.example.test", dns.TYPE.A)))
  test.equal(answer(peer).id, 9)
end

function test_an_idle_connection_is_closed()
  local peer = connect()
  peer:send(string.pack(">s2", query(1, "www.example.test", dns.TYPE.A)))
  answer(peer)
  peer:run(1900)
  test.equal(peer.fin, false, "open before tcp_idle")
  peer:run(200)
  test.expect(peer.fin, "closed after tcp_idle")
end

function test_a_query_dribbled_past_tcp_idle_closes_the_connection()
  local peer = connect()
  local bytes = string.pack(">s2", query(5, "www.example.test", dns.TYPE.A))
  peer:send(bytes:sub(1, 3))
  for i = 4, 6 do  -- a byte every 500 ms: each comes within tcp_idle, the query does not
    peer:run(500)
    test.equal(peer.fin, false, "open at byte " .. i)
    peer:send(bytes:sub(i, i))
  end
  peer:run(400)
  test.equal(peer.fin, false, "open 1900 ms after the length")
  peer:run(200)
  test.expect(peer.fin, "closed 2000 ms after the length")
  test.equal(peer.received, "", "unanswered")
end
