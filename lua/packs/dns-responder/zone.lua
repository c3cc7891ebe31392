-- Records from text (require "zone"): the `records` setting, entries separated by ';',
-- and the `zone` file, one record a line, in a small subset of the master-file format:
--
--   $ORIGIN example.test.           ; later names without a trailing dot are relative to it
--   $TTL 300                        ; the TTL of later records that give none
--   www   A     198.18.0.9          ; NAME [TTL] [IN] TYPE VALUE
--   @     MX    10 mail             ; '@' is the origin; a line starting with a blank
--         TXT   "v=spf1 -all"       ;   repeats the previous name
--
-- Types: A, AAAA, PTR, CNAME, TXT, MX ("PREF HOST"). A PTR's name may be written as the
-- address itself (198.18.0.9 PTR www.example.test). TXT: quoted strings ("a" "b", with
-- \" \\ and \DDD escapes), or the rest of the entry as one string.
local names = require "names"

local zone = {}

zone.TYPES = {A = 1, CNAME = 5, PTR = 12, MX = 15, TXT = 16, AAAA = 28}

-- `text` cut at each unquoted `separator` byte.
local function split_unquoted(text, separator)
  local pieces, start, quoted, i = {}, 1, false, 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "\\" and quoted then
      i = i + 1
    elseif c == '"' then
      quoted = not quoted
    elseif c == separator and not quoted then
      pieces[#pieces + 1] = text:sub(start, i - 1)
      start = i + 1
    end
    i = i + 1
  end
  pieces[#pieces + 1] = text:sub(start)
  return pieces
end

-- The character-strings of a TXT value, each at most 255 bytes, or nil and why not.
local function txt_strings(value)
  if value:sub(1, 1) ~= '"' then
    local strings = {}
    for i = 1, math.max(#value, 1), 255 do strings[#strings + 1] = value:sub(i, i + 254) end
    return strings
  end
  local strings, i = {}, 1
  while i <= #value do
    if value:sub(i, i):match("%s") then
      i = i + 1
    elseif value:sub(i, i) ~= '"' then
      return nil, "text outside quotes: " .. value:sub(i)
    else
      local bytes = {}
      i = i + 1
      while true do
        local c = value:sub(i, i)
        if c == "" then return nil, "an unclosed quote" end
        if c == '"' then i = i + 1 break end
        if c == "\\" then
          local digits = value:match("^%d%d%d", i + 1)
          if digits then
            if tonumber(digits) > 255 then return nil, "\\" .. digits .. " is not a byte" end
            c = string.char(tonumber(digits))
            i = i + 3
          else
            c = value:sub(i + 1, i + 1)
            i = i + 1
          end
        end
        bytes[#bytes + 1] = c
        i = i + 1
      end
      local text = table.concat(bytes)
      repeat
        strings[#strings + 1] = text:sub(1, 255)
        text = text:sub(256)
      until text == ""
    end
  end
  if #strings == 0 then return nil, "no string" end
  return strings
end

-- One record from its fields; `value` is the text after the type; `name` nil: the name
-- `previous`. Nil and why not.
local function record(name, previous, type_name, ttl, value, origin)
  local record = {type = zone.TYPES[type_name], ttl = ttl}
  local token = value:match("^(%S+)$")
  if type_name == "A" then
    record.rdata = token and names.ipv4(token)
    if not record.rdata then return nil, "A needs an IPv4 address, got '" .. value .. "'" end
  elseif type_name == "AAAA" then
    record.rdata = token and names.ipv6(token)
    if not record.rdata then return nil, "AAAA needs an IPv6 address, got '" .. value .. "'" end
  elseif type_name == "PTR" or type_name == "CNAME" then
    if not token then return nil, type_name .. " needs one name, got '" .. value .. "'" end
    local target, problem = names.parse(token, origin)
    if not target then return nil, problem end
    record.target = target
  elseif type_name == "MX" then
    local preference, host = value:match("^(%d+)%s+(%S+)$")
    if not preference or tonumber(preference) > 65535 then
      return nil, "MX needs 'PREFERENCE HOST' (0-65535 and a name), got '" .. value .. "'"
    end
    local target, problem = names.parse(host, origin)
    if not target then return nil, problem end
    record.preference, record.target = tonumber(preference), target
  else  -- TXT
    local strings, problem = txt_strings(value)
    if not strings then return nil, "TXT: " .. problem end
    local parts = {}
    for i, text in ipairs(strings) do parts[i] = string.char(#text) .. text end
    record.rdata = table.concat(parts)
  end

  if not name then
    record.name = previous
    return record
  end
  if type_name == "PTR" then
    local address = names.ipv4(name) or names.ipv6(name)
    if address then name = names.reverse(address) .. "." end
  end
  local owner, problem = names.parse(name, origin)
  if not owner then return nil, problem end
  record.name = owner
  return record
end

-- Parses one entry (NAME [TTL] [IN] TYPE VALUE) into `into`; returns its name, or nil
-- and why not. `previous` is the name a blank-led entry repeats.
local function entry(text, into, defaults, previous)
  local name
  if text:match("^%s") then
    if not previous then return nil, "no name (and no previous line to take it from)" end
  else
    name, text = text:match("^(%S+)(.*)$")
  end
  local ttl, type_name
  while true do
    local token, rest = text:match("^%s*(%S+)(.*)$")
    if not token then return nil, "no type (one of A, AAAA, PTR, CNAME, TXT, MX)" end
    local upper = token:upper()
    if token:match("^%d+$") and not ttl then
      ttl = tonumber(token)
      if ttl > 0x7fffffff then return nil, "TTL " .. token .. " is over 2^31 - 1" end
    elseif upper == "IN" then
      -- the only class there is here
    elseif zone.TYPES[upper] then
      type_name, text = upper, rest
      break
    else
      return nil, "'" .. token .. "' is not a type (one of A, AAAA, PTR, CNAME, TXT, MX), a TTL or IN"
    end
    text = rest
  end
  local value = text:match("^%s*(.-)%s*$")
  if value == "" then return nil, type_name .. " needs a value" end
  local parsed, problem = record(name, previous, type_name, ttl or defaults.ttl, value, defaults.origin)
  if not parsed then return nil, problem end
  into[#into + 1] = parsed
  return parsed.name
end

-- The records of the `records` setting; errors name the entry.
function zone.from_setting(text, ttl, into)
  for index, piece in ipairs(split_unquoted(text, ";")) do
    local trimmed = piece:match("^%s*(.-)%s*$")
    if trimmed ~= "" then
      local ok, problem = entry(trimmed, into, {ttl = ttl})
      if not ok then error("records entry " .. index .. " ('" .. trimmed .. "'): " .. problem, 0) end
    end
  end
  return into
end

-- The records of a zone file's text; errors name the line.
function zone.from_file(text, ttl, into)
  local defaults = {ttl = ttl}
  local previous
  local number = 0
  for line in (text .. "\n"):gmatch("(.-)\r?\n") do
    number = number + 1
    local content = split_unquoted(line, ";")[1]
    if content:match("^%s*#") then content = "" end
    local function fail(problem) error("zone line " .. number .. " ('" .. line .. "'): " .. problem, 0) end
    local directive, argument = content:match("^%$(%S+)%s*(%S*)%s*$")
    if directive then
      directive = directive:upper()
      if directive == "ORIGIN" then
        local origin, problem = names.parse(argument:sub(-1) == "." and argument or argument .. ".")
        if not origin then fail(problem) end
        defaults.origin = origin
      elseif directive == "TTL" then
        if not argument:match("^%d+$") or tonumber(argument) > 0x7fffffff then
          fail("$TTL needs seconds (0 to 2^31 - 1)")
        end
        defaults.ttl = tonumber(argument)
      else
        fail("unknown directive (known: $ORIGIN name, $TTL seconds)")
      end
    elseif content:match("%S") then
      local name, problem = entry(content:match("^(.-)%s*$"), into, defaults, previous)
      if not name then fail(problem) end
      previous = name
    end
  end
  return into
end

return zone
