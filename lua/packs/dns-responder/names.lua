-- Domain names and addresses in their text forms (require "names").
-- A name is held lower-case, dotted, without the trailing dot; the root is "".
local names = {}

local MAX_WIRE_LENGTH = 255
local MAX_LABEL_LENGTH = 63

-- The name `text` (absolute with or without its trailing dot; "@" is `origin`; relative
-- to `origin` when one is given and the text has no trailing dot), or nil and why not.
function names.parse(text, origin)
  if text == "@" then
    if not origin then return nil, "'@' needs a $ORIGIN" end
    return origin
  end
  if text == "." then return "" end
  local absolute = text:sub(-1) == "."
  if absolute then text = text:sub(1, -2) end
  text = text:lower()
  if not absolute and origin and origin ~= "" then text = text .. "." .. origin end
  local length = 1
  for label in (text .. "."):gmatch("(.-)%.") do
    if label == "" then return nil, "'" .. text .. "' has an empty label" end
    if #label > MAX_LABEL_LENGTH then return nil, "a label of '" .. text .. "' is over 63 bytes" end
    length = length + #label + 1
  end
  if length > MAX_WIRE_LENGTH then return nil, "'" .. text .. "' is over 255 bytes" end
  return text
end

-- The wire form of a name: length-prefixed labels and the zero byte.
function names.wire(name)
  if name == "" then return "\0" end
  local parts = {}
  for label in (name .. "."):gmatch("(.-)%.") do
    parts[#parts + 1] = string.char(#label) .. label
  end
  return table.concat(parts) .. "\0"
end

-- The labels of a name, as a list.
function names.labels(name)
  local labels = {}
  if name ~= "" then
    for label in (name .. "."):gmatch("(.-)%.") do labels[#labels + 1] = label end
  end
  return labels
end

-- 4 bytes from "a.b.c.d", or nil.
function names.ipv4(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local bytes = {tonumber(a), tonumber(b), tonumber(c), tonumber(d)}
  for _, byte in ipairs(bytes) do
    if byte > 255 then return nil end
  end
  return string.char(bytes[1], bytes[2], bytes[3], bytes[4])
end

-- 16 bytes from an IPv6 address in any RFC 4291 text form (:: and a dotted IPv4 tail), or nil.
function names.ipv6(text)
  if not text:find(":", 1, true) then return nil end
  local tail = ""
  local last = text:match(":([%d%.]+)$")
  if last and last:find(".", 1, true) then
    tail = names.ipv4(last)
    if not tail then return nil end
    text = text:sub(1, -#last - 1) .. "0:0"   -- two placeholder groups, replaced below
  end
  local head, rest = text:match("^(.-)::(.*)$")
  local function groups(part)
    local list = {}
    if part == "" then return list end
    for group in (part .. ":"):gmatch("(.-):") do
      if not group:match("^%x%x?%x?%x?$") then return nil end
      list[#list + 1] = tonumber(group, 16)
    end
    return list
  end
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
  local bytes = {}
  for i, word in ipairs(words) do bytes[i] = string.pack(">I2", word) end
  local packed = table.concat(bytes)
  if tail ~= "" then packed = packed:sub(1, 12) .. tail end
  return packed
end

-- The reverse-lookup name of an address's bytes (4: in-addr.arpa, 16: ip6.arpa).
function names.reverse(bytes)
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

return names
