-- TCP echo on port 7 (the host's engine answers the handshake; the pack's task echoes),
-- while every other TCP port still gets a reset.
test.settings{tcp_idle = 1000}
local tcp = require "tapir.testing.tcp"
local config = test.config

local function connect(dst)
  tcp.reset()
  local peer = tcp.peer{dst = dst or config.ip, dst_mac = config.mac, dport = 7}
  return peer, peer:connect()
end

function test_port_7_answers_a_syn_with_a_syn_ack_not_a_reset()
  local peer, connected = connect()
  test.expect(connected, "a SYN-ACK")
  test.equal(peer.syn_ack.flags, 0x12)
  test.equal(peer.syn_ack.ack, 1001)
  test.equal(peer.reset, false)
end

function test_what_is_sent_comes_back_over_ipv4_and_ipv6()
  for _, dst in ipairs{config.ip, config.ipv6} do
    local peer, connected = connect(dst)
    test.expect(connected, "connected to " .. dst)
    peer:send("hello, tapir\n")
    test.expect(peer:read_until(function(data) return data == "hello, tapir\n" end), "echoed over " .. dst)
    local big = string.rep("0123456789abcdef", 6000)  -- 96000 bytes: more than a window
    peer:take()
    peer:send(big)
    test.expect(peer:read_until(function(data) return #data >= #big end, 5000), "all of it back: " .. #peer.received)
    test.equal(peer:take(), big)
    peer:close()
    peer:run(10)
    test.expect(peer.fin, "closed after the client's FIN")
  end
end

function test_an_idle_echo_connection_is_closed()
  local peer = connect()
  peer:run(900)
  test.equal(peer.fin, false)
  peer:run(200)
  test.expect(peer.fin, "closed after tcp_idle")
end

function test_other_tcp_ports_are_still_reset()
  tcp.reset()
  local peer = tcp.peer{dst = config.ip, dst_mac = config.mac, dport = 8}
  test.equal(peer:connect(), false)
  test.expect(peer.reset, "a reset from port 8")
end
