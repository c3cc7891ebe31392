local config = test.config
local PEER_MAC = "02:00:00:00:00:01"

local function syn(dport, dst)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = dst or config.ip, proto = 6,
                        payload = tapir.build.tcp{sport = 40000, dport = dport, seq = 1000, flags = "S",
                                                  window = 65535, options = "\2\4\5\180"}}
end

local function only_reply()
  local out = test.written()
  test.equal(#out, 1, "one frame written")
  return test.decode(out[1])
end

function test_each_service_port_answers_a_syn_with_a_syn_ack()
  for _, port in ipairs{config.echo[1], config.discard[1], config.chargen[1]} do
    test.inject(syn(port))
    local reply = only_reply()
    test.equal(reply.tcp.flags, 0x12, "SYN-ACK from port " .. port)
    test.equal(reply.tcp.ack, 1001)
    test.equal(reply.tcp.sport, port)
    test.equal(reply.ip.src, config.ip)
    test.equal(reply.eth.dst, PEER_MAC)
  end
end

function test_other_ports_and_addresses_get_no_syn_ack()
  test.inject(syn(8))
  test.inject(syn(config.echo[1], "198.18.0.77"))
  local syn_acks = 0
  for _, frame in ipairs(test.written()) do
    if test.decode(frame).tcp.flags == 0x12 then syn_acks = syn_acks + 1 end
  end
  test.equal(syn_acks, 0, "no SYN-ACK")
end

function test_arp_for_its_address_is_answered_by_the_host()
  test.inject(tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
    .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = "198.18.0.1", tpa = config.ip})
  local reply = only_reply()
  test.equal(reply.arp.op, 2)
  test.equal(reply.arp.sha, config.mac)
end
