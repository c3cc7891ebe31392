-- Several ports: each is echoed, a port between them is not.
test.settings{ports = {7, 7777}}
local config = test.config
local PEER_MAC = "02:00:00:00:00:01"

local function datagram(dport, data)
  return tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
      .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport, payload = data}}
end

function test_every_configured_port_is_echoed()
  for _, port in ipairs({7, 7777}) do
    test.inject(datagram(port, "to " .. port))
    local out = test.written()
    test.equal(#out, 1)
    test.equal(test.decode(out[1]).udp.sport, port)
    test.equal(test.decode(out[1]).payload, "to " .. port)
  end
end

function test_a_port_not_configured_is_not_echoed()
  test.inject(datagram(77, "not echoed"))
  test.equal(#test.written(), 0)
end
