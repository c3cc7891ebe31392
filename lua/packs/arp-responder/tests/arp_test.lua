local config = test.config
local PEER_MAC, PEER_IP = "02:00:00:00:00:01", "198.18.0.1"

local function who_has(address)
  return tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
      .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = PEER_IP, tha = "00:00:00:00:00:00", tpa = address}
end

function test_announces_its_addresses_at_start_and_one_second_later()
  local first = test.written()
  test.equal(#first, #config.addresses, "gratuitous ARPs at start")
  local arp = test.decode(first[1])
  test.equal(arp.eth.dst, "ff:ff:ff:ff:ff:ff")
  test.equal(arp.arp.spa, config.addresses[1])
  test.equal(arp.arp.tpa, config.addresses[1])
  test.advance(1000)
  test.equal(#test.written(), #config.addresses, "announced again after 1 s")
end

function test_answers_a_request_for_its_address()
  test.written()
  test.inject(who_has(config.addresses[1]))
  local replies = test.written()
  test.equal(#replies, 1)
  local reply = test.decode(replies[1])
  test.equal(reply.arp.op, 2)
  test.equal(reply.arp.sha, config.mac)
  test.equal(reply.arp.spa, config.addresses[1])
  test.equal(reply.arp.tha, PEER_MAC)
  test.equal(reply.arp.tpa, PEER_IP)
  test.equal(reply.eth.src, config.mac)
  test.equal(reply.eth.dst, PEER_MAC)
end

function test_ignores_requests_for_other_addresses()
  test.written()
  test.inject(who_has("198.18.0.99"))
  test.equal(#test.written(), 0)
end
