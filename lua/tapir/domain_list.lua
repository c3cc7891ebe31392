-- Lists of domain names in uncompressed DNS wire form, one after another: the DNSSL option
-- of router advertisements (RFC 8106 5.2, zero padding after the last name) and DHCPv6's
-- domain list (RFC 3646 4, RFC 8415 10). Pure: no tapir calls (require "tapir.domain_list").
--
--   domain_list.encode{"example.net", "lab.test"} -> bytes, or nil and why
--   domain_list.decode(bytes) -> {"example.net", "lab.test"}, or nil and why
local domain_list = {}

function domain_list.encode(names)
  if type(names) ~= "table" then return nil, "a list of names expected, got " .. type(names) end
  local parts = {}
  for _, name in ipairs(names) do
    if type(name) ~= "string" then return nil, "a name is a " .. type(name) .. ", not a string" end
    local bare = name:gsub("%.$", "")
    if bare == "" or bare:find("..", 1, true) or bare:sub(1, 1) == "." then
      return nil, "'" .. name .. "' is not a domain name"
    end
    local size = 1
    for label in bare:gmatch("[^.]+") do
      if #label > 63 then return nil, "a label of '" .. name .. "' is over 63 bytes" end
      parts[#parts + 1] = string.char(#label) .. label
      size = size + 1 + #label
    end
    if size > 255 then return nil, "'" .. name .. "' is over 255 bytes" end
    parts[#parts + 1] = "\0"
  end
  return table.concat(parts)
end

-- Zero bytes after the last name are padding (RFC 8106 5.2). A compression pointer is an
-- error: neither RFC allows one here; so is a label with a dot in it (no escapes in text).
function domain_list.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  local names, at = {}, 1
  while at <= #bytes do
    if bytes:byte(at) == 0 then
      if bytes:sub(at):find("[^\0]") then return nil, "an empty name before the end" end
      break
    end
    local labels = {}
    while true do
      local size = bytes:byte(at)
      if not size then return nil, "a name runs past the end" end
      if size == 0 then at = at + 1 break end
      if size > 63 then return nil, string.format("a label length byte 0x%02x (compression is not allowed here)", size) end
      if at + size > #bytes then return nil, "a label runs past the end" end
      local label = bytes:sub(at + 1, at + size)
      -- a dot inside a label has no text form here (no escapes): the name would read back otherwise
      if label:find(".", 1, true) then return nil, "a label with a dot in it" end
      labels[#labels + 1] = label
      at = at + 1 + size
    end
    names[#names + 1] = table.concat(labels, ".")
  end
  return names
end

return domain_list
