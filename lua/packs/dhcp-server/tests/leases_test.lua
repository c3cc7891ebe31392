-- The pool module (leases.lua) and the message parser on their own, for what needs other
-- settings than the defaults `tapir test` runs the pack with: static bindings, small
-- pools, bad settings, a reload under changed settings.
-- The pack's modules sit beside tests/, and this folder comes first in package.path.
package.path = package.path:gsub("^(.-)tests/%?%.lua", "%1?.lua;%0", 1)
local Leases = require "leases"
local message = require "message"
local client = require "support.client"

local A, B, C = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c"
local NOW = 1000

local function settings(overrides)
  local s = {ip = "198.18.0.2", prefix = 24, pool = "198.18.0.100-198.18.0.102", static = "", lease = 3600}
  for k, v in pairs(overrides or {}) do s[k] = v end
  return s
end

local function new_pool(overrides, store)
  local pool, problem = Leases.new(settings(overrides), store or {})
  test.expect(pool, problem)
  return pool
end

local function bind(pool, key, mac, now)
  now = now or NOW
  local ip = pool:choose(key, mac, nil, now)
  if ip then pool:bind(key, mac, ip, now) end
  return ip
end

function test_a_static_binding_is_that_clients_only_and_never_anyone_elses()
  local pool = new_pool{static = "02:00:00:00:00:0A = 198.18.0.101; 02-00-00-00-00-0b=198.18.0.50"}
  test.equal(bind(pool, "hw:" .. A, A), "198.18.0.101", "MACs are matched whatever their case")
  test.equal(bind(pool, "hw:" .. B, B), "198.18.0.50", "a fixed address may lie outside the pool")
  test.equal(bind(pool, "hw:" .. C, C), "198.18.0.100")
  test.equal(bind(pool, "hw:d", "02:00:00:00:00:0d"), "198.18.0.102", "the fixed .101 is skipped")
  test.equal(bind(pool, "hw:e", "02:00:00:00:00:0e"), nil, "the pool is exhausted")
  local ok, why = pool:can_have("hw:" .. A, A, "198.18.0.102", NOW)
  test.equal(ok, false)
  test.expect(why:find("198.18.0.101"), why)
  test.equal(select(2, pool:can_have("hw:f", "02:00:00:00:00:0f", "198.18.0.50", NOW)),
             "the fixed address of another client")
end

function test_a_small_pool_is_shared_out_and_exhausted()
  local pool = new_pool()
  test.equal(bind(pool, "b", B, NOW), "198.18.0.100")
  test.equal(bind(pool, "a", A, NOW + 1), "198.18.0.101")
  test.equal(bind(pool, "c", C, NOW + 2), "198.18.0.102")
  test.equal(pool:choose("d", "02:00:00:00:00:0d", nil, NOW + 2), nil)
  test.equal(pool:choose("d", "02:00:00:00:00:0d", nil, NOW + 3600 * 1000 + 1), "198.18.0.100",
             "once the leases ran out, the one that ended first is reclaimed")
end

function test_the_derived_pool_is_the_subnet_but_network_broadcast_and_server()
  local pool = new_pool{pool = "", prefix = 30}
  test.equal(bind(pool, "a", A), "198.18.0.1")
  test.equal(bind(pool, "b", B), nil, "a /30 has two hosts: the server and one client")
end

function test_bad_settings_say_which_and_why()
  local cases = {
    {{pool = "198.18.1.1-198.18.1.9"}, "setting 'pool': '198.18.1.1-198.18.1.9' is not inside 198.18.0.0"},
    {{pool = "198.18.0.9-198.18.0.1"}, "starts after it ends"},
    {{pool = "lots"}, "is not FIRST-LAST"},
    {{static = "02:00:00:00:00:0a"}, "setting 'static': '02:00:00:00:00:0a' is not MAC=IP"},
    {{static = "02:00:00:00:00:0a=10.0.0.1"}, "10.0.0.1 is not a client address"},
    {{static = "02:00:00:00:00:0a=198.18.0.5;02:00:00:00:00:0b=198.18.0.5"}, "bound twice"},
    {{prefix = 31}, "setting 'prefix'"},
    {{ip = "198.18.0.0"}, "network or broadcast"},
    {{lease = 0}, "setting 'lease'"},
  }
  for _, case in ipairs(cases) do
    local pool, problem = Leases.new(settings(case[1]), {})
    test.equal(pool, nil)
    test.expect(problem and problem:find(case[2], 1, true), tostring(problem) .. " should say " .. case[2])
  end
end

function test_a_reload_keeps_the_leases_and_drops_those_the_new_settings_exclude()
  local store = {}
  local pool = new_pool({}, store)
  bind(pool, "a", A)
  bind(pool, "b", B)
  -- the same settings: a fresh pool over the same records knows both
  local again = new_pool({}, store)
  test.equal(again:choose("a", A, nil, NOW), "198.18.0.100")
  test.equal(again:choose("c", C, nil, NOW), "198.18.0.102")
  -- a smaller pool: the lease outside it is gone, the other kept
  local smaller = new_pool({pool = "198.18.0.100-198.18.0.100"}, store)
  test.equal(smaller:lease_of("b"), nil)
  test.equal(smaller:lease_of("a").ip, "198.18.0.100")
end

function test_the_parser_says_why_a_request_is_malformed()
  local good = client.bootp{type = 3, mac = A, requested = "198.18.0.9", client_id = "\1\2\3"}
  local request = message.parse(good)
  test.equal(request.type, 3)
  test.equal(request.requested, "198.18.0.9")
  test.equal(request.client_id, "\1\2\3")
  test.equal(request.mac, A)
  local cases = {
    {good:sub(1, 239), "shorter than a header"},
    {"\2" .. good:sub(2), "not BOOTREQUEST"},
    {good:sub(1, 236) .. "junk" .. good:sub(241), "bad magic cookie"},
    {good:sub(1, 240) .. "\50\4\1\2", "option 50 (length 4) runs past the end"},
    {good:sub(1, 240) .. "\50", "no length byte"},
    {good:sub(1, 240) .. "\50\3\1\2\3\255", "option 50 has length 3"},
    {good:sub(1, 240) .. "\61\1\1\255", "option 61 has length 1"},
  }
  for _, case in ipairs(cases) do
    local parsed, why = message.parse(case[1])
    test.equal(parsed, nil)
    test.expect(why and why:find(case[2], 1, true), tostring(why) .. " should say " .. case[2])
  end
  -- a repeated option is one value, concatenated (RFC 3396)
  local split = message.parse(good:sub(1, 240) .. "\53\1\1\12\2ab\12\2cd\255")
  test.equal(split.options[12], "abcd")
end
