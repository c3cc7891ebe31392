-- IPv4 and IPv6 addresses between their text forms and their bytes, for protocol modules
-- and packs (require "tapir.address"). Pure: no tapir calls.
--
--   address.ipv4_bytes("198.18.0.9")     -> "\198\18\0\9", or nil
--   address.ipv4_text("\198\18\0\9")     -> "198.18.0.9"
--   address.ipv6_bytes("2001:2::9")      -> 16 bytes, or nil (any RFC 4291 form, dotted tail too)
--   address.ipv6_text(bytes)             -> "2001:2::9" (RFC 5952: lower case, longest zero run as ::)
--   address.reverse_name(bytes)          -> "9.0.18.198.in-addr.arpa" / nibbles under ip6.arpa
local address = {}

function address.ipv4_bytes(text)
  if type(text) ~= "string" then return nil end
  local a, b, c, d = text:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return string.char(a, b, c, d)
end

function address.ipv4_text(bytes, at)
  at = at or 1
  return string.format("%d.%d.%d.%d", bytes:byte(at, at + 3))
end

local function groups(part)
  local list = {}
  if part == "" then return list end
  for group in (part .. ":"):gmatch("(.-):") do
    if not group:match("^%x%x?%x?%x?$") then return nil end
    list[#list + 1] = tonumber(group, 16)
  end
  return list
end

function address.ipv6_bytes(text)
  if type(text) ~= "string" or not text:find(":", 1, true) then return nil end
  local tail = ""
  local last = text:match(":([%d%.]+)$")
  if last and last:find(".", 1, true) then
    tail = address.ipv4_bytes(last)
    if not tail then return nil end
    text = text:sub(1, -#last - 1) .. "0:0"   -- two placeholder groups, replaced below
  end
  local head, rest = text:match("^(.-)::(.*)$")
  local words
  if head then
    if rest:find("::", 1, true) then return nil end
    local left, right = groups(head), groups(rest)
    if not left or not right or #left + #right > 7 then return nil end
    words = left
    for _ = 1, 8 - #left - #right do words[#words + 1] = 0 end
    for _, word in ipairs(right) do words[#words + 1] = word end
  else
    words = groups(text)
    if not words or #words ~= 8 then return nil end
  end
  local packed = string.pack(">I2I2I2I2I2I2I2I2", table.unpack(words, 1, 8))
  if tail ~= "" then packed = packed:sub(1, 12) .. tail end
  return packed
end

function address.ipv6_text(bytes, at)
  at = at or 1
  local words = {string.unpack(">I2I2I2I2I2I2I2I2", bytes, at)}
  words[9] = nil
  local best_at, best_length, run_at, run_length = 0, 0, 0, 0
  for i = 1, 8 do
    if words[i] == 0 then
      if run_length == 0 then run_at = i end
      run_length = run_length + 1
      if run_length > best_length then best_at, best_length = run_at, run_length end
    else
      run_length = 0
    end
  end
  local parts = {}
  for i = 1, 8 do parts[i] = string.format("%x", words[i]) end
  if best_length < 2 then return table.concat(parts, ":") end
  return table.concat(parts, ":", 1, best_at - 1) .. "::" .. table.concat(parts, ":", best_at + best_length, 8)
end

function address.reverse_name(bytes)
  local parts = {}
  if #bytes == 4 then
    for i = 4, 1, -1 do parts[#parts + 1] = tostring(bytes:byte(i)) end
    parts[#parts + 1] = "in-addr.arpa"
  else
    for i = 16, 1, -1 do
      local byte = bytes:byte(i)
      parts[#parts + 1] = string.format("%x.%x", byte % 16, byte // 16)
    end
    parts[#parts + 1] = "ip6.arpa"
  end
  return table.concat(parts, ".")
end

return address
