-- For tests: tapir.proto.dns's two paths side by side (require "tapir.testing.dns_paths"). Inside
-- tapir the module decodes and encodes with its C core (Sources/CLua/clua_dns.c) and
-- leaves to its Lua code what the core declines; without the core it is pure Lua. Both must
-- give the same tables (types included), bytes and reasons for any input: `differ` says where
-- they do not, for bytes and for message tables made from them with fields changed.
local M = {}

local NATIVE = "tapir.proto.dns_native"

-- tapir.proto.dns loaded a second time without its C core: pure Lua.
function M.pure()
  local preload, loaded_native, loaded_dns = package.preload[NATIVE], package.loaded[NATIVE],
      package.loaded["tapir.proto.dns"]
  package.preload[NATIVE], package.loaded[NATIVE], package.loaded["tapir.proto.dns"] = nil, nil, nil
  local ok, pure = pcall(require, "tapir.proto.dns")
  package.preload[NATIVE], package.loaded[NATIVE], package.loaded["tapir.proto.dns"] = preload, loaded_native,
      loaded_dns
  if not ok then error(pure, 0) end
  assert(pure.NATIVE == false, "the second instance found the C core")
  return pure
end

-- Where a and b differ (types, integer or float, and contents), or nil.
local function difference(a, b, path)
  if type(a) ~= type(b) then return string.format("%s: %s against %s", path, type(a), type(b)) end
  if type(a) == "number" and math.type(a) ~= math.type(b) then
    return string.format("%s: %s against %s", path, math.type(a), math.type(b))
  end
  if type(a) ~= "table" then
    if a ~= b and not (a ~= a and b ~= b) then
      return string.format("%s: %q against %q", path, tostring(a), tostring(b))
    end
    return nil
  end
  for key, value in pairs(a) do
    local found = difference(value, b[key], path .. "." .. tostring(key))
    if found then return found end
  end
  for key in pairs(b) do
    if a[key] == nil then return path .. "." .. tostring(key) .. ": only in the second" end
  end
  return nil
end
M.difference = difference

local function copy(value)
  if type(value) ~= "table" then return value end
  local result = {}
  for key, item in pairs(value) do result[key] = copy(item) end
  return setmetatable(result, getmetatable(value))
end

-- Values a changed field takes: each kind encode checks (wrong types, ranges' edges, floats,
-- names with escapes, trailing dots and empty labels, addresses both may or may not read).
local VALUES = {
  false, true, 0, 1, -1, 1.0, 2.5, 15, 16, 255, 256, 0xFFF, 0x1000, 0xFFFF, 0x10000, 0xFFFFFFFF, 0x100000000,
  math.mininteger, math.maxinteger, 0 / 0, "", "x", "7", ".", "a.b.", "a..b", "WWW.Example.TEST", "www.example.test",
  "a\\.b.example.test", "\\065b.test", "\\256.test", "x\\", string.rep("a", 63) .. ".test", string.rep("a", 64),
  string.rep("abcdefg.", 32), "198.18.0.1", "198.18.0.256", "01.2.3.4", "1.2.3", "2001:2::1", "::", "::1",
  "::ffff:198.18.0.1", "1::2::3", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
  "fe80::1%eth0", "2001:2:0:0:0:0:0:1", "1::", ":1::2", "::1.2.3.", string.rep("\255", 300),
  {}, {"one"}, {"", string.rep("t", 255)}, {string.rep("t", 256)}, {1, 2}, {{code = 10, data = "12345678"}},
  {{code = 70000, data = ""}}, {{code = 1}}, {{code = 1, data = 5}},
  {name = "x", type = 1, ttl = 1, address = "198.18.0.1"},
  {{name = "a.test", type = 1, class = 1}}, setmetatable({}, {__index = {name = "m.test", type = 1}}),
}

local KEYS = {
  "name", "type", "class", "ttl", "address", "target", "rdata", "preference", "exchange", "priority", "weight",
  "port", "mname", "rname", "serial", "refresh", "retry", "expire", "minimum", "strings", "flags", "tag", "value",
  "id", "opcode", "rcode", "qr", "aa", "rd", "questions", "answers", "authority", "additional", "edns", "udp_size",
  "version", "dnssec_ok", "z", "options", "code", "data",
}

local TYPES = {1, 2, 5, 6, 12, 15, 16, 28, 33, 41, 99, 257}

-- The tables of msg that a change may go to: the message, its EDNS and options, its
-- questions and records.
local function places(msg)
  local list = {msg}
  if type(msg.edns) == "table" then
    list[#list + 1] = msg.edns
    local options = type(msg.edns.options) == "table" and msg.edns.options or {}
    for _, option in ipairs(options) do
      if type(option) == "table" then list[#list + 1] = option end
    end
  end
  for _, section in ipairs{"questions", "answers", "authority", "additional"} do
    for _, entry in ipairs(type(msg[section]) == "table" and msg[section] or {}) do
      if type(entry) == "table" then list[#list + 1] = entry end
    end
  end
  return list
end

-- A generator of integers 1..n from a seed (the same changes for the same input).
local function generator(seed)
  local state = seed
  return function(n)
    state = state * 6364136223846793005 + 1442695040888963407
    return (state >> 33) % n + 1
  end
end

local function seed_of(bytes)
  local seed = #bytes
  for i = 1, math.min(#bytes, 64) do seed = seed * 31 + bytes:byte(i) end
  return seed
end

-- Where `dns` (the module with its C core) and `pure` part for `bytes`: decoding them, encoding
-- what was read, and encoding `changes` copies of it with one to three fields changed. Nil
-- when they agree everywhere.
function M.differ(dns, pure, bytes, changes)
  local first, first_why = dns.decode(bytes)
  local second, second_why = pure.decode(bytes)
  local found = difference({first, first_why}, {second, second_why}, "decode")
  if found then return found end
  if not first then return nil end
  local function encodings(msg, label)
    local a, a_why = dns.encode(msg)
    local b, b_why = pure.encode(msg)
    return difference({a, a_why}, {b, b_why}, label)
  end
  found = encodings(first, "encode")
  if found then return found end
  local random = generator(seed_of(bytes))
  for change = 1, changes or 0 do
    local msg = copy(first)
    for _ = 1, random(3) do
      local list = places(msg)
      local target = list[random(#list)]
      local kind = random(8)
      if kind == 1 then
        target.type = TYPES[random(#TYPES)]
      elseif kind == 2 then
        msg.edns = nil
      else
        local value = VALUES[random(#VALUES + 1)]   -- one past the end: nil
        target[KEYS[random(#KEYS)]] = copy(value)
      end
    end
    found = encodings(msg, "encode of change " .. change)
    if found then return found end
  end
  return nil
end

return M
