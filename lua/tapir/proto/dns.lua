-- DNS messages (RFC 1035), EDNS0 (RFC 6891): decode(bytes) -> message | nil, why, and
-- encode(message) -> bytes | nil, why, with names compressed (RFC 1035 4.1.4).
-- No tapir calls (require "tapir.proto.dns"). Inside tapir a C core (Sources/CLua/clua_dns.c,
-- preloaded as "tapir.proto.dns_native") decodes and encodes the messages it can, with the
-- same results; what it leaves (anything refused, names with escapes, tables with
-- metatables) and every message where there is no such core (plain lua5.4) go through the
-- Lua below. dns.NATIVE says which.
--
-- A message:
--   {id = 0x1234, qr = false, opcode = 0, aa = false, tc = false, rd = true, ra = false,
--    ad = false, cd = false, rcode = 0,            -- with EDNS, the 12-bit extended rcode
--    questions = {{name = "www.example.test", type = 1, class = 1}},
--    answers = {RR, ...}, authority = {RR, ...}, additional = {RR, ...},   -- no OPT here
--    edns = nil | {udp_size = 1232, version = 0, dnssec_ok = false, z = 0,
--                  options = {{code = 10, data = "..."}, ...}},
--    edns_error = nil | why}   -- decode only: a second OPT, one not at the root, a broken
--                              -- option list (the message is readable; answer FORMERR)
--
-- A resource record: {name =, type =, class = 1, ttl =, ...the type's fields}:
--   A, AAAA  address = "198.18.0.9" / "2001:2::9"
--   NS, CNAME, PTR  target = NAME
--   MX       preference =, exchange = NAME
--   SRV      priority =, weight =, port =, target = NAME   (target never compressed, RFC 2782)
--   SOA      mname =, rname =, serial =, refresh =, retry =, expire =, minimum =
--   TXT      strings = {"each", "at most 255 bytes"}
--   CAA      flags =, tag =, value =                        (RFC 8659)
--   any      rdata = bytes (other types; given, it is written as is for any type)
--
-- Names are text: labels joined by ".", no trailing dot, "" the root; a label byte that
-- is a dot, a backslash or outside printable ASCII reads as "\." "\\" or "\DDD" (the
-- master-file escapes), so any name survives a round trip. Case is kept as sent.
local address = require "tapir.addr"

local byte, char, sub, find, pack, unpack = string.byte, string.char, string.sub, string.find, string.pack, string.unpack
local concat = table.concat

local dns = {}

dns.TYPE = {A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33,
            OPT = 41, IXFR = 251, AXFR = 252, ANY = 255, CAA = 257}
dns.TYPE_NAME = {}
for name, number in pairs(dns.TYPE) do dns.TYPE_NAME[number] = name end
dns.CLASS = {IN = 1, CH = 3, NONE = 254, ANY = 255}
dns.RCODE = {NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5, YXDOMAIN = 6,
             YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9, NOTZONE = 10, BADVERS = 16}
dns.OPCODE = {QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5}
-- Fields decode gives that say something of the bytes read and that encode does not write
-- (a round trip drops them).
dns.DECODE_ONLY = {edns_error = true}
-- Names compare, and so compress, case-blind (RFC 4343): encoding may write a name as a
-- pointer to an earlier one in another case, which a round trip then reads.
dns.CASE_BLIND = true

local T = dns.TYPE
local MAX_NAME = 255
local MAX_POINTERS = 127

local found_native, native = pcall(require, "tapir.proto.dns_native")
if not found_native or type(native) ~= "table" then native = nil end
dns.NATIVE = native ~= nil

-- Names ------------------------------------------------------------------------------------

local UNSAFE = "[^%w%-_*/+=:]"

local function escape_label(label)
  if not label:find(UNSAFE) then return label end
  return (label:gsub(UNSAFE, function(c)
    if c == "." or c == "\\" then return "\\" .. c end
    local b = byte(c)
    if b > 32 and b < 127 then return c end
    return string.format("\\%03d", b)
  end))
end

-- The labels of a name's text, unescaped; or nil and why not.
function dns.labels(name)
  if name == "" or name == "." then return {} end
  if name:sub(-1) == "." and name:sub(-2) ~= "\\." then name = name:sub(1, -2) end
  local labels, length = {}, 1
  local function add(label)
    if label == "" then return "'" .. name .. "' has an empty label" end
    if #label > 63 then return "a label of '" .. name .. "' is over 63 bytes" end
    length = length + #label + 1
    labels[#labels + 1] = label
  end
  if not name:find("\\", 1, true) then
    for label in (name .. "."):gmatch("(.-)%.") do
      local problem = add(label)
      if problem then return nil, problem end
    end
  else
    local current, i = {}, 1
    while i <= #name do
      local c = sub(name, i, i)
      if c == "\\" then
        local digits = name:match("^%d%d%d", i + 1)
        if digits then
          if tonumber(digits) > 255 then return nil, "'\\" .. digits .. "' in '" .. name .. "' is not a byte" end
          current[#current + 1] = char(tonumber(digits))
          i = i + 4
        else
          local escaped = sub(name, i + 1, i + 1)
          if escaped == "" then return nil, "'" .. name .. "' ends in a backslash" end
          current[#current + 1] = escaped
          i = i + 2
        end
      elseif c == "." then
        local problem = add(concat(current))
        if problem then return nil, problem end
        current, i = {}, i + 1
      else
        current[#current + 1] = c
        i = i + 1
      end
    end
    local problem = add(concat(current))
    if problem then return nil, problem end
  end
  if length > MAX_NAME then return nil, "'" .. name .. "' is over 255 bytes" end
  return labels
end

-- The uncompressed wire form of a name, or nil and why not.
function dns.wire_name(name)
  local labels, problem = dns.labels(name)
  if not labels then return nil, problem end
  local parts = {}
  for i, label in ipairs(labels) do parts[i] = char(#label) .. label end
  parts[#parts + 1] = "\0"
  return concat(parts)
end

-- A name in its canonical text: lower case (ASCII only, as RFC 4343), no trailing dot.
function dns.canonical(name)
  if name:sub(-1) == "." and name:sub(-2) ~= "\\." then name = name:sub(1, -2) end
  return name:lower()
end

-- The name at `pos` (1-based), pointers followed; returns its text and the position after
-- it, or nil and why. Every pointer must point before the one that led to it, so a loop
-- cannot trap the reader; and a name follows at most MAX_POINTERS of them (a compressor
-- makes at most one per label, so 127), so a message of pointers to pointers cannot make
-- every name walk a chain thousands long.
local function read_name(p, pos)
  if byte(p, pos) == 0 then return "", pos + 1 end   -- the root, as every OPT's owner
  -- Labels are joined as they come: most names have a few, and a chain of ".." is cheaper
  -- than a table and table.concat for them.
  local name, length = nil, 1
  local after
  local limit, pointers = pos, 0
  while true do
    local size = byte(p, pos)
    if not size then return nil, "a name runs past the end" end
    if size == 0 then
      return name or "", after or pos + 1
    elseif size >= 0xC0 then
      local low = byte(p, pos + 1)
      if not low then return nil, "a name runs past the end" end
      local target = ((size & 0x3F) << 8 | low) + 1
      if target >= limit then return nil, "a compression pointer that does not point back" end
      pointers = pointers + 1
      if pointers > MAX_POINTERS then return nil, "a name through more than " .. MAX_POINTERS .. " compression pointers" end
      after = after or pos + 2
      pos, limit = target, target
    elseif size > 63 then
      return nil, "a label length of " .. size
    else
      if pos + size > #p then return nil, "a name runs past the end" end
      length = length + size + 1
      if length > MAX_NAME then return nil, "a name over 255 bytes" end
      local label = sub(p, pos + 1, pos + size)
      -- The search stops at the next length byte at the latest: only a label with a byte
      -- to escape pays for escape_label.
      local unsafe = find(p, UNSAFE, pos + 1)
      if unsafe and unsafe <= pos + size then label = escape_label(label) end
      name = name and name .. "." .. label or label
      pos = pos + 1 + size
    end
  end
end
dns.read_name = read_name

-- Decoding ---------------------------------------------------------------------------------

local function read_rdata(p, rr, at, rdata_end)
  local t, length = rr.type, rdata_end - at
  -- The common answers first, before the closures the others use are made.
  if t == T.A then
    if length ~= 4 then error("A data of " .. length .. " bytes", 0) end
    rr.address = address.ipv4_text(p, at)
    return
  elseif t == T.AAAA then
    if length ~= 16 then error("AAAA data of " .. length .. " bytes", 0) end
    rr.address = address.ipv6_text(p, at)
    return
  end
  local function name_at(pos)
    local name, after = read_name(p, pos)
    if not name then error(after, 0) end
    if after > rdata_end then error("a name runs past its record's data", 0) end
    return name, after
  end
  local function done(pos)
    if pos ~= rdata_end then error(dns.TYPE_NAME[t] .. " data of the wrong length", 0) end
  end
  if t == T.NS or t == T.CNAME or t == T.PTR then
    local name, after = name_at(at)
    done(after)
    rr.target = name
  elseif t == T.MX then
    if length < 3 then error("MX data of " .. length .. " bytes", 0) end
    rr.preference = unpack(">I2", p, at)
    local name, after = name_at(at + 2)
    done(after)
    rr.exchange = name
  elseif t == T.SRV then
    if length < 7 then error("SRV data of " .. length .. " bytes", 0) end
    rr.priority, rr.weight, rr.port = unpack(">I2I2I2", p, at)
    local name, after = name_at(at + 6)
    done(after)
    rr.target = name
  elseif t == T.SOA then
    local after
    rr.mname, after = name_at(at)
    rr.rname, after = name_at(after)
    if after + 20 ~= rdata_end then error("SOA data of the wrong length", 0) end
    rr.serial, rr.refresh, rr.retry, rr.expire, rr.minimum = unpack(">I4I4I4I4I4", p, after)
  elseif t == T.TXT then
    if length == 0 then error("TXT data with no string", 0) end
    local strings, pos = {}, at
    while pos < rdata_end do
      local size = byte(p, pos)
      if pos + size > rdata_end - 1 then
        error("a TXT string runs past its record's data", 0)
      end
      strings[#strings + 1] = sub(p, pos + 1, pos + size)
      pos = pos + 1 + size
    end
    rr.strings = strings
  elseif t == T.CAA then
    if length < 2 then error("CAA data of " .. length .. " bytes", 0) end
    local flags, tag_length = byte(p, at, at + 1)
    if tag_length == 0 or 2 + tag_length > length then error("CAA tag of the wrong length", 0) end
    rr.flags, rr.tag = flags, sub(p, at + 2, at + 1 + tag_length)
    rr.value = sub(p, at + 2 + tag_length, rdata_end - 1)
  else
    rr.rdata = sub(p, at, rdata_end - 1)
  end
end

local function read_opt(msg, rr, owner_is_root, p, at, rdata_end)
  if msg.edns then msg.edns_error = "a second OPT record" return end
  if not owner_is_root then msg.edns_error = "an OPT record not owned by the root" end
  local ttl = rr.ttl
  local edns = {udp_size = rr.class, extended_rcode = ttl >> 24, version = (ttl >> 16) & 0xFF,
                dnssec_ok = ttl & 0x8000 ~= 0, z = ttl & 0x7FFF, options = {}}
  local pos = at
  while pos < rdata_end do
    if pos + 3 >= rdata_end then msg.edns_error = "an EDNS option cut short" break end
    local code, size = unpack(">I2I2", p, pos)
    if pos + 3 + size > rdata_end - 1 then msg.edns_error = "an EDNS option runs past its record" break end
    edns.options[#edns.options + 1] = {code = code, data = sub(p, pos + 4, pos + 3 + size)}
    pos = pos + 4 + size
  end
  msg.edns = edns
end

local function decode(p)
  if #p < 12 then error("shorter than a DNS header (12 bytes)", 0) end
  local id, flags, qdcount, ancount, nscount, arcount = unpack(">I2I2I2I2I2I2", p)
  local msg = {
    id = id, qr = flags & 0x8000 ~= 0, opcode = (flags >> 11) & 0xF, aa = flags & 0x0400 ~= 0,
    tc = flags & 0x0200 ~= 0, rd = flags & 0x0100 ~= 0, ra = flags & 0x0080 ~= 0,
    ad = flags & 0x0020 ~= 0, cd = flags & 0x0010 ~= 0, rcode = flags & 0xF,
    questions = {}, answers = {}, authority = {}, additional = {},
  }
  -- Each question takes at least 5 bytes, each record 11: counts claiming more than the
  -- bytes hold are refused before any table grows with them.
  if qdcount * 5 + (ancount + nscount + arcount) * 11 > #p - 12 then
    error("the counts claim more records than there are bytes", 0)
  end
  local pos = 13
  for i = 1, qdcount do
    local name, after = read_name(p, pos)
    if not name then error(after, 0) end
    if after + 3 > #p then error("a question runs past the end", 0) end
    local qtype, qclass = unpack(">I2I2", p, after)
    msg.questions[i] = {name = name, type = qtype, class = qclass}
    pos = after + 4
  end
  for s = 1, 3 do
    local list = s == 1 and msg.answers or s == 2 and msg.authority or msg.additional
    for _ = 1, s == 1 and ancount or s == 2 and nscount or arcount do
      local name, after = read_name(p, pos)
      if not name then error(after, 0) end
      if after + 9 > #p then error("a record runs past the end", 0) end
      local rr_type, class, ttl, length = unpack(">I2I2I4I2", p, after)
      local at = after + 10
      local rdata_end = at + length
      if rdata_end - 1 > #p then error("a record's data runs past the end", 0) end
      local rr = {name = name, type = rr_type, class = class, ttl = ttl}
      if rr_type == T.OPT and s == 3 then
        read_opt(msg, rr, after == pos + 1, p, at, rdata_end)
      else
        read_rdata(p, rr, at, rdata_end)
        list[#list + 1] = rr
      end
      pos = rdata_end
    end
  end
  if msg.edns then msg.rcode = msg.edns.extended_rcode << 4 | msg.rcode end
  return msg
end

-- The message in `bytes`, or nil and why it cannot be read. Bytes after the last record
-- are ignored.
function dns.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  local ok, result = pcall(decode, bytes)
  if not ok then return nil, result end
  return result
end

-- Encoding ---------------------------------------------------------------------------------
--
-- One message is written at a time (encode never yields), into the module's own buffer:
-- `parts` and their total `length`, and the offset of every name suffix already placed
-- (lower case, for compression). `suffixes` is kept between messages and emptied of the
-- keys `placed` lists (cheaper than a new table growing again each time).
local parts, count, length, suffixes = {}, 0, 0, {}
local placed, placed_count = {}, 0

local function put(bytes)
  count = count + 1
  parts[count] = bytes
  length = length + #bytes
end

-- What writing a name needs, kept per name text (a server writes the same few names again
-- and again): its labels' wire forms and its suffixes' wire forms in lower case (not their
-- text: "a\.b", one label with a dot, is not "a.b"). The cache is dropped whole when it
-- grows past CACHE_LIMIT names, so any traffic keeps it bounded.
local CACHE_LIMIT = 4096
local name_cache, cached = {}, 0

local function name_parts(name)
  local entry = name_cache[name]
  if entry then return entry end
  local labels, problem = dns.labels(name)
  if not labels then error(problem, 0) end
  entry = {wire = {}, suffix = {}, offset = {}}
  local at = 0
  for i, label in ipairs(labels) do
    entry.wire[i] = char(#label) .. label
    entry.offset[i] = at
    at = at + 1 + #label
  end
  for i = 1, #labels do entry.suffix[i] = concat(entry.wire, "", i):lower() end
  entry.whole = concat(entry.wire) .. "\0"
  if cached >= CACHE_LIMIT then name_cache, cached = {}, 0 end
  name_cache[name], cached = entry, cached + 1
  return entry
end

local function put_name(name, compress)
  local entry = name_parts(name)
  local wire, suffix = entry.wire, entry.suffix
  local n = #wire
  -- Where the first suffix already written is: the name up to there is written out, the
  -- rest is a pointer (when compressing).
  local first_known = n + 1
  for i = 1, n do
    if suffixes[suffix[i]] then first_known = i break end
  end
  local start = length
  for i = 1, first_known - 1 do
    if start + entry.offset[i] < 0x4000 then
      suffixes[suffix[i]] = start + entry.offset[i]
      placed_count = placed_count + 1
      placed[placed_count] = suffix[i]
    end
  end
  if first_known > n then
    put(entry.whole)
  elseif compress then
    for i = 1, first_known - 1 do put(wire[i]) end
    put(pack(">I2", 0xC000 | suffixes[suffix[first_known]]))
  else
    put(entry.whole)
  end
end

local function need(rr, field, kind)
  local value = rr[field]
  if kind == "integer" and math.type(value) ~= "integer" then
    error(string.format("%s record of '%s': '%s' must be an integer", dns.TYPE_NAME[rr.type] or rr.type,
                        rr.name, field), 0)
  elseif kind == "string" and type(value) ~= "string" then
    error(string.format("%s record of '%s': '%s' must be a string", dns.TYPE_NAME[rr.type] or rr.type,
                        rr.name, field), 0)
  end
  return value
end

local function u16(rr, field)
  local value = need(rr, field, "integer")
  if value < 0 or value > 0xFFFF then error("'" .. field .. "' = " .. value .. " is not 16 bits", 0) end
  return value
end

local function u32(rr, field)
  local value = need(rr, field, "integer")
  if value < 0 or value > 0xFFFFFFFF then error("'" .. field .. "' = " .. value .. " is not 32 bits", 0) end
  return value
end

-- An address's bytes, kept per text as names are.
local address_cache, addresses_cached = {}, 0

local function address_bytes(text, t)
  local bytes = address_cache[text]
  if not bytes then
    bytes = address.ipv4_bytes(text) or address.ipv6_bytes(text)
    if not bytes then return nil end
    if addresses_cached >= CACHE_LIMIT then address_cache, addresses_cached = {}, 0 end
    address_cache[text], addresses_cached = bytes, addresses_cached + 1
  end
  if #bytes ~= (t == T.A and 4 or 16) then return nil end
  return bytes
end

-- Writes the record's data after its length field, then fills the length in.
local A_LENGTH, AAAA_LENGTH = pack(">I2", 4), pack(">I2", 16)

local function put_rdata(rr)
  local t = rr.type
  if (t == 1 or t == 28) and not rr.rdata then   -- A, AAAA
    -- The common answers: their length is known before their data.
    local text = rr.address
    if type(text) ~= "string" then need(rr, "address", "string") end
    local bytes = address_bytes(text, t)
    if not bytes then error("'" .. text .. "' is not an " .. (t == T.A and "IPv4" or "IPv6") .. " address", 0) end
    put(t == T.A and A_LENGTH or AAAA_LENGTH)
    put(bytes)
    return
  end
  local length_slot = count + 1
  put("\0\0")
  local start = length
  if rr.rdata then
    put(need(rr, "rdata", "string"))
  elseif t == T.A or t == T.AAAA then
    local text = need(rr, "address", "string")
    local bytes = address_bytes(text, t)
    if not bytes then error("'" .. text .. "' is not an " .. (t == T.A and "IPv4" or "IPv6") .. " address", 0) end
    put(bytes)
  elseif t == T.NS or t == T.CNAME or t == T.PTR then
    put_name(need(rr, "target", "string"), true)
  elseif t == T.MX then
    put(pack(">I2", u16(rr, "preference")))
    put_name(need(rr, "exchange", "string"), true)
  elseif t == T.SRV then
    put(pack(">I2I2I2", u16(rr, "priority"), u16(rr, "weight"), u16(rr, "port")))
    put_name(need(rr, "target", "string"), false)
  elseif t == T.SOA then
    put_name(need(rr, "mname", "string"), true)
    put_name(need(rr, "rname", "string"), true)
    put(pack(">I4I4I4I4I4", u32(rr, "serial"), u32(rr, "refresh"), u32(rr, "retry"), u32(rr, "expire"),
             u32(rr, "minimum")))
  elseif t == T.TXT then
    local strings = rr.strings
    if type(strings) ~= "table" or #strings == 0 then error("TXT record of '" .. rr.name .. "': no strings", 0) end
    for _, text in ipairs(strings) do
      if type(text) ~= "string" or #text > 255 then error("a TXT string must be a string of at most 255 bytes", 0) end
      put(char(#text) .. text)
    end
  elseif t == T.CAA then
    local tag = need(rr, "tag", "string")
    if #tag < 1 or #tag > 255 then error("a CAA tag must be 1 to 255 bytes", 0) end
    local flags = need(rr, "flags", "integer")
    if flags < 0 or flags > 255 then error("CAA flags must be 0 to 255", 0) end
    put(char(flags, #tag) .. tag .. need(rr, "value", "string"))
  else
    error("record of '" .. tostring(rr.name) .. "': type " .. tostring(t) .. " needs 'rdata' (bytes)", 0)
  end
  local data_length = length - start
  if data_length > 0xFFFF then error("a record's data is over 65535 bytes", 0) end
  parts[length_slot] = pack(">I2", data_length)
end

local mtype = math.type

local function put_record(rr)
  if type(rr) ~= "table" then error("a record must be a table", 0) end
  -- The checks inline for valid values; need, u16 and u32 say what is wrong.
  local name, t, class, ttl = rr.name, rr.type, rr.class, rr.ttl
  if type(name) ~= "string" then need(rr, "name", "string") end
  if mtype(t) ~= "integer" or t < 0 or t > 0xFFFF then u16(rr, "type") end
  if class == nil then
    class = 1
  elseif mtype(class) ~= "integer" or class < 0 or class > 0xFFFF then
    u16(rr, "class")
  end
  if mtype(ttl) ~= "integer" or ttl < 0 or ttl > 0xFFFFFFFF then u32(rr, "ttl") end
  put_name(name, true)
  put(pack(">I2I2I4", t, class, ttl))
  put_rdata(rr)
end

local function flag(value, bit)
  return value and bit or 0
end

local function encode(msg)
  local questions = msg.questions or {}
  local answers, authority, additional = msg.answers or {}, msg.authority or {}, msg.additional or {}
  local edns = msg.edns
  local rcode = msg.rcode or 0
  if math.type(rcode) ~= "integer" or rcode < 0 or rcode > 0xFFF or (rcode > 15 and not edns) then
    error("rcode " .. tostring(rcode) .. " does not fit" .. (edns and "" or " (over 15 needs EDNS)"), 0)
  end
  local opcode = msg.opcode or 0
  if math.type(opcode) ~= "integer" or opcode < 0 or opcode > 15 then error("opcode must be 0 to 15", 0) end
  local id = msg.id or 0
  if math.type(id) ~= "integer" or id < 0 or id > 0xFFFF then error("id must be 0 to 65535", 0) end
  local flags = (msg.qr and 0x8000 or 0) | opcode << 11 | (msg.aa and 0x0400 or 0) | (msg.tc and 0x0200 or 0)
      | (msg.rd and 0x0100 or 0) | (msg.ra and 0x0080 or 0) | (msg.ad and 0x0020 or 0) | (msg.cd and 0x0010 or 0)
      | (rcode & 0xF)
  -- Slots past `count` may hold an earlier message's parts: concat stops at `count`.
  for i = 1, placed_count do suffixes[placed[i]] = nil end
  count, length, placed_count = 0, 0, 0
  put(pack(">I2I2I2I2I2I2", id, flags, #questions, #answers, #authority, #additional + (edns and 1 or 0)))
  for _, q in ipairs(questions) do
    if type(q) ~= "table" then error("a question must be a table", 0) end
    local name, t, class = q.name, q.type, q.class
    if type(name) ~= "string" then need(q, "name", "string") end
    if mtype(t) ~= "integer" or t < 0 or t > 0xFFFF then u16(q, "type") end
    if class == nil then
      class = 1
    elseif mtype(class) ~= "integer" or class < 0 or class > 0xFFFF then
      u16(q, "class")
    end
    put_name(name, true)
    put(pack(">I2I2", t, class))
  end
  for _, rr in ipairs(answers) do put_record(rr) end
  for _, rr in ipairs(authority) do put_record(rr) end
  for _, rr in ipairs(additional) do put_record(rr) end
  if edns then
    local size = edns.udp_size or 512
    local ttl = (rcode >> 4) << 24 | (edns.version or 0) << 16 | flag(edns.dnssec_ok, 0x8000) | (edns.z or 0) & 0x7FFF
    local options = ""
    if edns.options and #edns.options > 0 then
      local list = {}
      for i, option in ipairs(edns.options) do list[i] = pack(">I2s2", option.code, option.data) end
      options = concat(list)
    end
    put(pack(">BI2I2I4s2", 0, T.OPT, size, ttl, options))   -- owned by the root
  end
  return concat(parts, "", 1, count)
end

-- The bytes of `msg`, or nil and why it cannot be written (a bad name, a field missing
-- or out of range).
function dns.encode(msg)
  if type(msg) ~= "table" then return nil, "a message table expected, got " .. type(msg) end
  local ok, result = pcall(encode, msg)
  if not ok then return nil, result end
  return result
end

-- With the C core, dns.decode and dns.encode are its functions, which call the Lua ones
-- above with what they decline (and so give the same answers and reasons). Running out of
-- memory raises there, as any allocation outside a pcall does.
if native then dns.decode, dns.encode = native.bind(dns.decode, dns.encode) end

return dns
