-- Records from text (require "zone"): zone files in the RFC 1035 master-file format (5.1)
-- as BIND and NSD read them, and the `records` setting (entries separated by ';', each
-- one line of that format, names absolute).
--
--   $ORIGIN example.test.          ; later relative names are under it; '@' is it
--   $TTL 1h                        ; default TTL of later records (units s m h d w: 1h30m)
--   $INCLUDE other.zone [ORIGIN]   ; another file of the zone's folder (see `read`)
--   @  IN SOA ns hostmaster ( 2026010101 3h 15m 1w 5m )   ; parentheses join lines
--      IN NS  ns                   ; a line starting with a blank: the name above
--   www 300 IN A 198.18.0.9        ; NAME [TTL] [CLASS] TYPE DATA (TTL and class either order)
--
-- Types: A, AAAA, NS, CNAME, PTR, MX, TXT, SRV, SOA, CAA. Class IN only. Names take the
-- \X and \DDD escapes; a TXT string is quoted or one word. A PTR's owner may be written
-- as the address itself (198.18.0.9 PTR www.example.test.).
--
-- Records come out as tapir.proto.dns records (name lower case, no trailing dot). Errors
-- are raised as one line, "SOURCE:LINE: what is wrong", never with a position in Lua.
local dns = require "tapir.proto.dns"
local address = require "tapir.addr"

local zone = {}

local T = dns.TYPE
zone.TYPES = {A = T.A, AAAA = T.AAAA, NS = T.NS, CNAME = T.CNAME, PTR = T.PTR, MX = T.MX, TXT = T.TXT,
              SRV = T.SRV, SOA = T.SOA, CAA = T.CAA}
local TYPE_LIST = "A, AAAA, NS, CNAME, PTR, MX, TXT, SRV, SOA, CAA"
local MAX_TTL = 0x7fffffff
local MAX_INCLUDE_DEPTH = 8

-- A failure carried up to the caller as one line.
local Failure = {}
local function fail(source, line, problem)
  error(setmetatable({text = string.format("%s:%d: %s", source, line, problem)}, Failure), 0)
end

-- A bare token's bytes: \DDD is the byte DDD, \X is X.
local function unescape(raw)
  local bytes, i = {}, 1
  while i <= #raw do
    local c = raw:sub(i, i)
    if c == "\\" then
      local digits = raw:match("^%d%d%d", i + 1)
      if digits then
        c, i = string.char(tonumber(digits) % 256), i + 3
      else
        c, i = raw:sub(i + 1, i + 1), i + 1
      end
    end
    bytes[#bytes + 1] = c
    i = i + 1
  end
  return table.concat(bytes)
end

-- The logical lines of `text`: {line = N, blank = starts with a blank, tokens = {{text =
-- raw, bytes = unescaped, quoted = bool}, ...}}. Parentheses join lines; ';' starts a
-- comment outside quotes; a line whose first non-blank is '#' is a comment too.
local function logical_lines(text, source)
  local lines = {}
  local n, pos, line = #text, 1, 1
  local depth, depth_line = 0, 0
  local current = {line = 1, blank = false, tokens = {}}
  local function finish()
    if #current.tokens > 0 then lines[#lines + 1] = current end
  end
  while pos <= n do
    local c = text:sub(pos, pos)
    if c == "\n" then
      line = line + 1
      pos = pos + 1
      if depth == 0 then
        finish()
        current = {line = line, blank = false, tokens = {}}
      end
    elseif c == " " or c == "\t" or c == "\r" then
      if pos == 1 or text:sub(pos - 1, pos - 1) == "\n" then
        if depth == 0 then current.blank = true end
      end
      pos = pos + 1
    elseif c == ";" or (c == "#" and depth == 0 and #current.tokens == 0) then
      local stop = text:find("\n", pos, true)
      pos = stop or n + 1
    elseif c == "(" then
      if depth == 0 then depth_line = line end
      depth = depth + 1
      pos = pos + 1
    elseif c == ")" then
      if depth == 0 then fail(source, line, "')' without '('") end
      depth = depth - 1
      pos = pos + 1
    elseif c == '"' then
      local bytes, i = {}, pos + 1
      while true do
        local d = text:sub(i, i)
        if d == "" or d == "\n" then fail(source, line, "a quote that is not closed on its line") end
        if d == '"' then break end
        if d == "\\" then
          local digits = text:match("^%d%d%d", i + 1)
          if digits then
            if tonumber(digits) > 255 then fail(source, line, "\\" .. digits .. " is not a byte") end
            d, i = string.char(tonumber(digits)), i + 3
          else
            d, i = text:sub(i + 1, i + 1), i + 1
            if d == "\n" or d == "" then fail(source, line, "a quote that is not closed on its line") end
          end
        end
        bytes[#bytes + 1] = d
        i = i + 1
      end
      current.tokens[#current.tokens + 1] = {text = text:sub(pos, i), bytes = table.concat(bytes), quoted = true}
      pos = i + 1
    else
      local i = pos
      while i <= n do
        local d = text:sub(i, i)
        if d == "\\" then
          i = i + 2
        elseif d:match("[%s;()\"]") then
          break
        else
          i = i + 1
        end
      end
      local raw = text:sub(pos, i - 1)
      local bytes = raw:find("\\", 1, true) and unescape(raw) or raw
      current.tokens[#current.tokens + 1] = {text = raw, bytes = bytes, quoted = false}
      pos = i
    end
  end
  if depth > 0 then fail(source, depth_line, "'(' that is never closed") end
  finish()
  return lines
end

-- "300", "1h", "1h30m", "2W" -> seconds, or nil.
function zone.ttl(text)
  if text:match("^%d+$") then
    local value = tonumber(text)
    return value and value <= MAX_TTL and value or nil
  end
  if not text:match("^[%d]+[smhdwSMHDW][%dsmhdwSMHDW]*$") or text:match("%d$") then return nil end
  local UNITS = {s = 1, m = 60, h = 3600, d = 86400, w = 604800}
  local total = 0
  for digits, unit in text:gmatch("(%d+)(%a)") do
    total = total + tonumber(digits) * UNITS[unit:lower()]
    if total > MAX_TTL then return nil end
  end
  return total
end

-- A name from its token: '@' is the origin, a trailing dot makes it absolute, else it is
-- relative to the origin (absolute when there is none). Lower case, no trailing dot.
local function name_of(token, origin)
  local text = token.text
  if token.quoted then return nil, "a name cannot be quoted" end
  if text == "@" then
    if not origin then return nil, "'@' needs a $ORIGIN" end
    return origin
  end
  local absolute = text:sub(-1) == "." and text:sub(-2) ~= "\\."
  if text == "." then return "" end
  if not absolute and origin and origin ~= "" then text = text .. "." .. origin end
  local labels, problem = dns.labels(text)
  if not labels then return nil, problem end
  return dns.canonical(text)
end

local function integer(token, limit, what)
  local value = token and token.text:match("^%d+$") and tonumber(token.text)
  if not value or value > limit then return nil, what .. " must be a number from 0 to " .. limit end
  return value
end

-- The record's data from `tokens` (from index `i`) into `rr`; nil and why not.
local function read_data(rr, type_name, tokens, i, origin)
  local function token(k) return tokens[i + k] end
  local count = #tokens - i + 1
  local function expect(n, form)
    if count ~= n then return type_name .. " needs " .. form end
  end
  local problem
  if type_name == "A" or type_name == "AAAA" then
    problem = expect(1, type_name == "A" and "an IPv4 address" or "an IPv6 address")
    if problem then return nil, problem end
    local bytes = type_name == "A" and address.ipv4_bytes(token(0).text) or type_name == "AAAA"
        and address.ipv6_bytes(token(0).text)
    if not bytes then
      return nil, type_name .. " needs an " .. (type_name == "A" and "IPv4" or "IPv6") .. " address, got '"
          .. token(0).text .. "'"
    end
    rr.address = type_name == "A" and address.ipv4_text(bytes) or address.ipv6_text(bytes)
  elseif type_name == "NS" or type_name == "CNAME" or type_name == "PTR" then
    problem = expect(1, "one name")
    if problem then return nil, problem end
    rr.target, problem = name_of(token(0), origin)
    if not rr.target then return nil, problem end
  elseif type_name == "MX" then
    problem = expect(2, "'PREFERENCE HOST'")
    if problem then return nil, problem end
    rr.preference, problem = integer(token(0), 65535, "the MX preference")
    if not rr.preference then return nil, problem end
    rr.exchange, problem = name_of(token(1), origin)
    if not rr.exchange then return nil, problem end
  elseif type_name == "SRV" then
    problem = expect(4, "'PRIORITY WEIGHT PORT TARGET'")
    if problem then return nil, problem end
    for k, field in ipairs({"priority", "weight", "port"}) do
      rr[field], problem = integer(token(k - 1), 65535, "the SRV " .. field)
      if not rr[field] then return nil, problem end
    end
    rr.target, problem = name_of(token(3), origin)
    if not rr.target then return nil, problem end
  elseif type_name == "SOA" then
    problem = expect(7, "'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'")
    if problem then return nil, problem end
    rr.mname, problem = name_of(token(0), origin)
    if not rr.mname then return nil, problem end
    rr.rname, problem = name_of(token(1), origin)
    if not rr.rname then return nil, problem end
    rr.serial, problem = integer(token(2), 0xffffffff, "the SOA serial")
    if not rr.serial then return nil, problem end
    for k, field in ipairs({"refresh", "retry", "expire", "minimum"}) do
      rr[field] = zone.ttl(token(2 + k).text)
      if not rr[field] then return nil, "the SOA " .. field .. " '" .. token(2 + k).text .. "' is not a time" end
    end
  elseif type_name == "TXT" then
    if count < 1 then return nil, "TXT needs at least one string" end
    rr.strings = {}
    for k = i, #tokens do
      local text = tokens[k].bytes
      if #text > 255 then return nil, "a TXT string is over 255 bytes" end
      rr.strings[#rr.strings + 1] = text
    end
  elseif type_name == "CAA" then
    problem = expect(3, "'FLAGS TAG VALUE'")
    if problem then return nil, problem end
    rr.flags, problem = integer(token(0), 255, "the CAA flags")
    if not rr.flags then return nil, problem end
    rr.tag = token(1).text
    if not rr.tag:match("^%w+$") then return nil, "the CAA tag '" .. rr.tag .. "' is not letters and digits" end
    rr.value = token(2).bytes
  end
  return rr
end

-- One logical line (not a directive) into a record; `state`: origin, ttl (default),
-- previous (owner), class_seen. Nil and why not.
local function read_record(entry, state)
  local tokens = entry.tokens
  local i = 1
  local owner_token
  if entry.blank then
    if not state.previous then return nil, "no name (and no record above to take it from)" end
  else
    owner_token = tokens[1]
    i = 2
  end
  local ttl, type_name
  while true do
    local token = tokens[i]
    if not token then return nil, "no type (one of " .. TYPE_LIST .. ")" end
    local upper = token.text:upper()
    if not ttl and not token.quoted and token.text:match("^%d") then
      ttl = zone.ttl(token.text)
      if not ttl then return nil, "'" .. token.text .. "' is not a TTL (seconds, or units s m h d w: 1h30m)" end
    elseif upper == "IN" then
      -- the class served
    elseif upper == "CH" or upper == "HS" or upper:match("^CLASS%d+$") then
      return nil, "class " .. upper .. ": only IN is served"
    elseif zone.TYPES[upper] then
      type_name = upper
      i = i + 1
      break
    else
      return nil, "'" .. token.text .. "' is not a type (one of " .. TYPE_LIST .. "), a TTL or a class"
    end
    i = i + 1
  end
  local rr = {type = zone.TYPES[type_name], class = dns.CLASS.IN}
  local ok, problem = read_data(rr, type_name, tokens, i, state.origin)
  if not ok then return nil, problem end

  local owner = state.previous
  if owner_token then
    if type_name == "PTR" then
      local bytes = address.ipv4_bytes(owner_token.text) or address.ipv6_bytes(owner_token.text)
      if bytes then owner_token = {text = address.reverse_name(bytes) .. "."} end
    end
    owner, problem = name_of(owner_token, state.origin)
    if not owner then return nil, problem end
  end
  rr.name = owner
  if type_name == "SOA" and not ttl and not state.ttl_set then ttl = rr.minimum end
  rr.ttl = ttl or state.ttl
  return rr
end

-- Parses `text` (from `source`) into `into`. options: ttl (the default TTL before a
-- $TTL), origin, read (function(name) -> text | nil, why: the files $INCLUDE names; nil:
-- $INCLUDE is refused with `no_include`, a sentence saying what would allow it), depth.
local function parse_file(text, source, into, options)
  local state = {origin = options.origin, ttl = options.ttl, ttl_set = options.ttl_set}
  for _, entry in ipairs(logical_lines(text, source)) do
    local first = entry.tokens[1]
    if not entry.blank and first.text:sub(1, 1) == "$" and not first.quoted then
      local directive = first.text:upper()
      local argument = entry.tokens[2]
      if directive == "$ORIGIN" then
        if not argument or #entry.tokens > 2 then fail(source, entry.line, "$ORIGIN needs one name") end
        local origin, problem = name_of(argument, state.origin)
        if not origin then fail(source, entry.line, problem) end
        state.origin = origin
      elseif directive == "$TTL" then
        local ttl = argument and #entry.tokens == 2 and zone.ttl(argument.text)
        if not ttl then
          fail(source, entry.line, "$TTL needs a time (seconds, or units s m h d w: 1h30m) up to 2^31 - 1 s")
        end
        state.ttl, state.ttl_set = ttl, true
      elseif directive == "$INCLUDE" then
        if not argument or #entry.tokens > 3 then fail(source, entry.line, "$INCLUDE needs a file name [and an origin]") end
        local file = argument.bytes
        if not options.read then fail(source, entry.line, "$INCLUDE " .. file .. ": " .. options.no_include) end
        if file:sub(1, 1) == "/" or file:find("%.%.") then
          fail(source, entry.line, "$INCLUDE " .. file .. ": only files inside the zone's folder (no '/' at the start, no '..')")
        end
        if (options.depth or 0) >= MAX_INCLUDE_DEPTH then
          fail(source, entry.line, "$INCLUDE nested more than " .. MAX_INCLUDE_DEPTH .. " deep")
        end
        local origin = state.origin
        if entry.tokens[3] then
          local problem
          origin, problem = name_of(entry.tokens[3], state.origin)
          if not origin then fail(source, entry.line, problem) end
        end
        local included, why = options.read(file)
        if not included then fail(source, entry.line, "$INCLUDE " .. file .. ": " .. why) end
        parse_file(included, file, into, {origin = origin, ttl = state.ttl, ttl_set = state.ttl_set,
                                          read = options.read, depth = (options.depth or 0) + 1})
      else
        fail(source, entry.line, first.text .. " is not a directive ($ORIGIN, $TTL, $INCLUDE)")
      end
    else
      local rr, problem = read_record(entry, state)
      if not rr then fail(source, entry.line, problem) end
      into[#into + 1] = rr
      state.previous = rr.name
    end
  end
  return into
end

-- Runs `f`, turning a Failure into (nil, text); other errors go on up (they are bugs).
local function caught(f, ...)
  local ok, result = pcall(f, ...)
  if ok then return result end
  if getmetatable(result) == Failure then return nil, result.text end
  error(result, 0)
end

-- The records of a zone file's text; `source` names it in errors. Returns the list, or
-- nil and "SOURCE:LINE: what is wrong".
function zone.from_file(text, source, options)
  return caught(parse_file, text, source, {}, {ttl = options.ttl, origin = options.origin,
                                               read = options.read, no_include = options.no_include})
end

-- The records of the `records` setting: entries separated by ';' outside quotes, names
-- absolute. Nil and "records entry N ('...'): what is wrong".
function zone.from_setting(text, ttl)
  local into, start, quoted, index = {}, 1, false, 0
  local pieces = {}
  local i = 1
  while i <= #text do
    local c = text:sub(i, i)
    if c == "\\" then
      i = i + 1
    elseif c == '"' then
      quoted = not quoted
    elseif c == ";" and not quoted then
      pieces[#pieces + 1] = text:sub(start, i - 1)
      start = i + 1
    end
    i = i + 1
  end
  pieces[#pieces + 1] = text:sub(start)
  for _, piece in ipairs(pieces) do
    local trimmed = piece:match("^%s*(.-)%s*$")
    if trimmed ~= "" then
      index = index + 1
      local records, problem = caught(parse_file, trimmed, "entry", {}, {ttl = ttl, no_include = "not in a setting"})
      if not records then
        return nil, "records entry " .. index .. " ('" .. trimmed .. "'): " .. problem:gsub("^entry:%d+: ", "")
      end
      for _, rr in ipairs(records) do into[#into + 1] = rr end
    end
  end
  return into
end

return zone
