-- Options a client asks for (55) that the settings give: in the order asked, and only
-- when asked, beside 1, 3, 6 and 15, which go whenever set.
local client = require "support.client"
test.settings{router = {"198.18.0.1"}, dns = {"198.18.0.53"}, domain = "sim.test", ntp = {"198.18.0.123", "198.18.0.124"},
              mtu = 1400, time_offset = "-3600", search = {"sim.test", "lab.sim.test"},
              routes = {"198.19.0.0/16 via 198.18.0.254", "10.0.0.0/8 via 198.18.0.253"},
              hostnames = "02:00:00:00:00:0a=alpha; 02:00:00:00:00:0b=beta"}
local A = "02:00:00:00:00:0a"

local function offer(parameters, mac)
  test.inject(client.frame{type = 1, mac = mac or A,
                           options = parameters and string.char(55, #parameters) .. string.char(table.unpack(parameters))})
  local out = test.written()
  test.equal(#out, 1)
  return client.read(test.decode(out[1]).payload), test.decode(out[1]).payload
end

-- The option codes of a reply, in the order written.
local function codes(payload)
  local list, at = {}, 241
  while at <= #payload and payload:byte(at) ~= 255 do
    list[#list + 1] = payload:byte(at)
    at = at + 2 + payload:byte(at + 1)
  end
  return table.concat(list, " ")
end

function test_what_dhclient_asks_for_is_given_in_its_order()
  -- dhclient's default request list, then 121 and 42 as in its usual configuration
  local reply, payload = offer{1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42}
  test.equal(codes(payload), "53 54 51 58 59 1 28 2 3 15 6 119 12 26 121 42",
             "44 and 47 (NetBIOS) are not set, so not sent")
  test.equal(client.u32(reply.options[28]), 0xc61200ff, "the broadcast address")
  test.equal(string.unpack(">i4", reply.options[2]), -3600)
  test.equal(reply.options[119], "\3sim\4test\0\3lab\3sim\4test\0")
  test.equal(reply.options[12], "alpha")
  test.equal(string.unpack(">I2", reply.options[26]), 1400)
  -- RFC 3442: width, significant octets, router; the default route via option 3's router added
  test.equal(client.hex(reply.options[121]), "10c613c61200fe" .. "080ac61200fd" .. "00c6120001")
  test.equal(client.hex(reply.options[42]), "c612007bc612007c")
end

function test_options_not_asked_for_are_not_sent_but_the_basic_ones_are()
  local reply, payload = offer(nil)
  test.equal(codes(payload), "53 54 51 58 59 1 3 6 15")
  test.equal(reply.options[42], nil)
  test.equal(reply.options[121], nil)
end

function test_the_ack_carries_them_too_and_a_host_name_only_for_its_mac()
  local request = string.char(55, 3, 121, 42, 12)
  local reply = offer({121, 42, 12}, "02:00:00:00:00:0c")
  test.equal(reply.options[12], nil, "no name for this MAC")
  test.inject(client.frame{type = 3, mac = "02:00:00:00:00:0c", server = test.config.ip, requested = reply.yiaddr,
                           options = request})
  local ack = client.read(test.decode(test.written()[1]).payload)
  test.equal(ack.type, 5)
  test.equal(client.hex(ack.options[42]), "c612007bc612007c")
  test.expect(ack.options[121] ~= nil, "option 121 in the ACK")
end
