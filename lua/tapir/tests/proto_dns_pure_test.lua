-- proto_dns_test.lua's golden bytes, round trips and refusals once more on tapir.proto.dns
-- without its C core (as in plain lua5.4): the Lua code alone gives the same results.
local NATIVE = "tapir.proto.dns_native"
local preload, loaded_dns = package.preload[NATIVE], package.loaded["tapir.proto.dns"]
package.preload[NATIVE], package.loaded[NATIVE], package.loaded["tapir.proto.dns"] = nil, nil, nil
local pure = require "tapir.proto.dns"
assert(pure.NATIVE == false, "tapir.proto.dns found its C core")
require "tapir.tests.proto_dns_test"   -- defines its test_ functions here, on `pure`
package.preload[NATIVE], package.loaded["tapir.proto.dns"] = preload, loaded_dns

function test_this_file_runs_the_lua_code()
  test.equal(pure.NATIVE, false)
end
