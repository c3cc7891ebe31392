-- Every answer the responder can give, encoded once at load (require "answers").
--
-- answers.build(records, options) -> table keyed by a name's wire form in lower case
-- (what a query's question name is, lower-cased: length bytes are below 64, so lower()
-- leaves them alone). Each value maps a query type to {count = n, bytes = answer RRs,
-- rcode = 0 or 3}, with `other` for the types the name has nothing of. The answer RRs
-- are compressed against the question name at offset 12, so they are right for any
-- query for that name, whatever its letters' case.
local names = require "names"

local answers = {}

local TYPE_CNAME, TYPE_PTR, TYPE_ANY = 5, 12, 255
local CLASS_IN = 1
local CNAME_CHAIN_LIMIT = 8

-- RR sets by name, then type: {[name] = {[type] = {record, ...}}}, duplicates dropped.
local function rrsets(records)
  local sets, seen = {}, {}
  for _, record in ipairs(records) do
    local identity = record.name .. "\0" .. record.type .. "\0" .. (record.rdata or "")
        .. "\0" .. (record.target or "") .. "\0" .. (record.preference or "")
    if not seen[identity] then
      seen[identity] = true
      local set = sets[record.name] or {}
      sets[record.name] = set
      set[record.type] = set[record.type] or {}
      table.insert(set[record.type], record)
    end
  end
  for name, set in pairs(sets) do
    if set[TYPE_CNAME] then
      if #set[TYPE_CNAME] > 1 then error("'" .. name .. "' has more than one CNAME", 0) end
      for other in pairs(set) do
        if other ~= TYPE_CNAME then error("'" .. name .. "' has a CNAME and other records (RFC 1034 forbids it)", 0) end
      end
    end
  end
  return sets
end

-- PTR records for the addresses of A and AAAA records whose reverse name has no PTR
-- (nor a CNAME) of its own: the first name given for an address.
local function synthesize_ptrs(records, sets)
  local added = {}
  for _, record in ipairs(records) do
    if record.type == 1 or record.type == 28 then
      local reverse = names.reverse(record.rdata)
      local set = sets[reverse]
      if not added[reverse] and not (set and (set[TYPE_PTR] or set[TYPE_CNAME])) then
        added[reverse] = true
        set = set or {}
        sets[reverse] = set
        set[TYPE_PTR] = {{name = reverse, type = TYPE_PTR, ttl = record.ttl, target = record.name}}
      end
    end
  end
end

-- A message being laid out from `offset`: names are compressed against the suffixes
-- already placed (RFC 1035 4.1.4).
local Message = {}
Message.__index = Message

local function message(question_name, offset)
  local self = setmetatable({parts = {}, offset = offset, suffixes = {}}, Message)
  self:name_bytes(question_name, 12)
  return self
end

-- The bytes of `name` placed at `at`, recording its new suffixes.
function Message:name_bytes(name, at)
  local labels = names.labels(name)
  local parts = {}
  for i = 1, #labels do
    local suffix = table.concat(labels, ".", i)
    local pointer = self.suffixes[suffix]
    if pointer then
      parts[#parts + 1] = string.pack(">I2", 0xC000 | pointer)
      return table.concat(parts)
    end
    if at < 0x4000 then self.suffixes[suffix] = at end
    parts[#parts + 1] = string.char(#labels[i]) .. labels[i]
    at = at + 1 + #labels[i]
  end
  parts[#parts + 1] = "\0"
  return table.concat(parts)
end

function Message:add(record)
  local owner = self:name_bytes(record.name, self.offset)
  local rdata_at = self.offset + #owner + 10
  local rdata = record.rdata
  if record.type == 15 then
    rdata = string.pack(">I2", record.preference) .. self:name_bytes(record.target, rdata_at + 2)
  elseif record.target then
    rdata = self:name_bytes(record.target, rdata_at)
  end
  local bytes = owner .. string.pack(">I2I2I4s2", record.type, CLASS_IN, record.ttl, rdata)
  self.parts[#self.parts + 1] = bytes
  self.offset = self.offset + #bytes
end

function Message:answer(rcode)
  return {count = #self.parts, bytes = table.concat(self.parts), rcode = rcode}
end

-- The answer to (name, qtype): CNAMEs followed within the records, then the records of
-- the type (all of them for ANY). A chain ending at a name we do not know is NXDOMAIN
-- (RFC 6604); a loop or an over-long chain stops where it is.
local function resolve(sets, name, qtype)
  local question = message(name, 12 + #names.wire(name) + 4)
  local seen = {}
  local current = name
  for _ = 1, CNAME_CHAIN_LIMIT do
    local set = sets[current]
    if not set then return question:answer(3) end
    seen[current] = true
    local cname = set[TYPE_CNAME]
    if cname and qtype ~= TYPE_CNAME and qtype ~= TYPE_ANY then
      question:add(cname[1])
      current = cname[1].target
      if seen[current] then break end
    else
      local types = {}
      if qtype == TYPE_ANY then
        for type in pairs(set) do types[#types + 1] = type end
        table.sort(types)
      else
        types[1] = qtype
      end
      for _, type in ipairs(types) do
        for _, record in ipairs(set[type] or {}) do question:add(record) end
      end
      break
    end
  end
  return question:answer(0)
end

-- The query types answered from a name's own entry: those the records have, and ANY.
local ANSWERED_TYPES = {1, 5, 12, 15, 16, 28, TYPE_ANY}

function answers.build(records, options)
  local sets = rrsets(records)
  if options.synthesize_ptr then synthesize_ptrs(records, sets) end
  local table_by_wire = {}
  local count = 0
  for name in pairs(sets) do
    local entry = {}
    for _, qtype in ipairs(ANSWERED_TYPES) do entry[qtype] = resolve(sets, name, qtype) end
    entry.other = resolve(sets, name, 0)   -- type 0: no records, CNAMEs still followed
    table_by_wire[names.wire(name)] = entry
    count = count + 1
  end
  return table_by_wire, count
end

return answers
