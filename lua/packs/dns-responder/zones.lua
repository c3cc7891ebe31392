-- The zones served and the authoritative answer to a question (RFC 1034 4.3.2, negative
-- answers RFC 2308), as tapir.proto.dns sections (require "zones").
--
-- zones.build(records, options) -> db, or nil and why. Every SOA owner is a zone apex.
-- Records under no SOA form zones of their own, apexed at the name's last two labels
-- (a reverse name: its /24 under in-addr.arpa, its /64 under ip6.arpa), each with the SOA
-- of options.soa (MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM, names relative to the
-- apex) and an NS record naming its MNAME.
--
-- db:answer(name, qtype) -> {rcode, answers, authority, additional}, or nil: the name is
-- in no zone served (REFUSED). A known name and type: the records, with the addresses we
-- have for the name servers of an NS answer in the additional section; ANY gets one RRset. CNAMEs are followed within
-- the zones served (8 links at most). A name that does not exist: NXDOMAIN; one that
-- exists without the type, or an empty non-terminal (a name with nothing of its own but
-- names below it): NOERROR with no answer. Both carry the zone's SOA in the authority
-- section, its TTL the lesser of the SOA's TTL and MINIMUM (RFC 2308 3 and 5).
--
-- db:transfer(apex) -> the zone's records as a zone transfer sends them (RFC 5936 2.2):
-- its SOA, every other record of every name in the zone (names sorted, each name's types
-- in the zone's order), the SOA again; nil when `apex` is not the apex of a zone served.
-- A child zone served too is a delegation here: its apex's NS records and the addresses
-- of those name servers that lie inside the child (glue) are the parent's to send, the
-- child's other records are not (RFC 5936 3.2, RFC 1034 4.2.1).
local dns = require "tapir.proto.dns"
local address = require "tapir.addr"

local zones = {}

local T = dns.TYPE
local CNAME_CHAIN_LIMIT = 8
local DB = {}
DB.__index = DB

local function parent(name)
  return name:match("^[^.]*%.(.*)$") or (name ~= "" and "" or nil)
end

-- The apex of a zone made up for a name under no SOA.
local function implicit_apex(name)
  local labels = {}
  for label in name:gmatch("[^.]+") do labels[#labels + 1] = label end
  local keep = 2
  if name:match("%.in%-addr%.arpa$") then keep = 5 elseif name:match("%.ip6%.arpa$") then keep = 18 end
  if #labels <= keep then return name end
  return table.concat(labels, ".", #labels - keep + 1)
end

-- The records of the SOA setting for `apex`.
local function setting_soa(text, apex, ttl)
  local fields = {}
  for field in text:gmatch("%S+") do fields[#fields + 1] = field end
  local numbers = {}
  for i = 3, 7 do numbers[i] = fields[i] and fields[i]:match("^%d+$") and tonumber(fields[i]) end
  if #fields ~= 7 or not (numbers[3] and numbers[4] and numbers[5] and numbers[6] and numbers[7])
     or numbers[3] > 0xffffffff then
    return nil, "setting 'soa' = '" .. text .. "' is not 'MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM'"
  end
  local function name(text)
    if text:sub(-1) == "." then return dns.canonical(text) end
    return dns.canonical(apex == "" and text or text .. "." .. apex)
  end
  local soa = {name = apex, type = T.SOA, class = 1, ttl = ttl, mname = name(fields[1]), rname = name(fields[2]),
               serial = numbers[3], refresh = numbers[4], retry = numbers[5], expire = numbers[6], minimum = numbers[7]}
  local ok, problem = dns.labels(soa.mname)
  if ok then ok, problem = dns.labels(soa.rname) end
  if not ok then return nil, "setting 'soa': " .. problem end
  return soa
end

-- PTR records for the addresses of A and AAAA records whose reverse name has no PTR
-- (nor a CNAME) of its own: the first name given for an address.
local function synthesize_ptrs(records, names)
  local added = {}
  for _, rr in ipairs(records) do
    if rr.type == T.A or rr.type == T.AAAA then
      local bytes = rr.type == T.A and address.ipv4_bytes(rr.address) or address.ipv6_bytes(rr.address)
      local reverse = address.reverse_name(bytes)
      local set = names[reverse]
      if not added[reverse] and not (set and (set[T.PTR] or set[T.CNAME])) then
        added[reverse] = true
        set = set or {order = {}}
        names[reverse] = set
        set.order[#set.order + 1] = T.PTR
        set[T.PTR] = {{name = reverse, type = T.PTR, class = 1, ttl = rr.ttl, target = rr.name}}
      end
    end
  end
end

-- options: synthesize_ptr (boolean), soa (the setting's text), ttl (for its SOA).
function zones.build(records, options)
  local names, seen = {}, {}
  for _, rr in ipairs(records) do
    local bytes, problem = dns.encode({answers = {rr}})
    if not bytes then return nil, "record of '" .. rr.name .. "': " .. problem end
    local identity = bytes:sub(13)
    if not seen[identity] then
      seen[identity] = true
      local set = names[rr.name] or {order = {}}
      names[rr.name] = set
      if not set[rr.type] then
        set[rr.type] = {}
        set.order[#set.order + 1] = rr.type
      end
      table.insert(set[rr.type], rr)
    end
  end
  if options.synthesize_ptr then synthesize_ptrs(records, names) end

  local self = setmetatable({names = names, apexes = {}, nonterminal = {}}, DB)
  for name, set in pairs(names) do
    if set[T.SOA] then
      if #set[T.SOA] > 1 then return nil, "'" .. name .. "' has more than one SOA" end
      self.apexes[name] = true
    end
    if set[T.CNAME] then
      if #set[T.CNAME] > 1 then return nil, "'" .. name .. "' has more than one CNAME" end
      for _, other in ipairs(set.order) do
        if other ~= T.CNAME then return nil, "'" .. name .. "' has a CNAME and other records (RFC 1034 forbids it)" end
      end
    end
  end
  -- Zones for the names under no SOA, with the setting's SOA and an NS for its MNAME.
  local made = {}
  for name in pairs(names) do
    if not self:apex_of(name) then made[implicit_apex(name)] = true end
  end
  for apex in pairs(made) do
    local soa, problem = setting_soa(options.soa, apex, options.ttl)
    if not soa then return nil, problem end
    local set = names[apex] or {order = {}}
    names[apex] = set
    if set[T.CNAME] then return nil, "'" .. apex .. "' has a CNAME, and it is the apex of a zone (it needs a SOA)" end
    set[T.SOA] = {soa}
    table.insert(set.order, 1, T.SOA)
    if not set[T.NS] then
      set[T.NS] = {{name = apex, type = T.NS, class = 1, ttl = options.ttl, target = soa.mname}}
      table.insert(set.order, 2, T.NS)
    end
    self.apexes[apex] = true
  end
  -- Empty non-terminals: the names between each name and its zone's apex.
  for name in pairs(names) do
    local apex = self:apex_of(name)
    local above = parent(name)
    while above and above ~= apex and #above >= #apex do
      if not names[above] then self.nonterminal[above] = true end
      above = parent(above)
    end
  end
  local count = 0
  for _ in pairs(names) do count = count + 1 end
  self.count = count
  return self
end

-- The apex of the zone `name` (canonical) is in, or nil.
function DB:apex_of(name)
  local current = name
  while current do
    if self.apexes[current] then return current end
    current = parent(current)
  end
  return nil
end

-- The apexes served, sorted.
function DB:zone_list()
  local list = {}
  for apex in pairs(self.apexes) do list[#list + 1] = apex end
  table.sort(list)
  return list
end

local function copy(rr, ttl)
  local new = {}
  for k, v in pairs(rr) do new[k] = v end
  if ttl then new.ttl = ttl end
  return new
end

-- The zone's SOA as a negative answer carries it.
function DB:negative_soa(apex)
  local soa = self.names[apex][T.SOA][1]
  return copy(soa, math.min(soa.ttl, soa.minimum))
end

-- The addresses we have for the name servers of an NS answer, A then AAAA, each once and
-- none already in the answer. Minimal responses, as NSD's `minimal-responses: yes` and
-- BIND's `minimal-responses yes` give: nothing for MX or SRV targets, no NS in the
-- authority section of positive answers.
function DB:additional_for(answers)
  local additional, done = {}, {}
  for _, rr in ipairs(answers) do
    local target = rr.type == T.NS and rr.target
    if target and not done[target] then
      done[target] = true
      local set = self.names[target]
      for _, t in ipairs({T.A, T.AAAA}) do
        for _, address_rr in ipairs(set and set[t] or {}) do additional[#additional + 1] = address_rr end
      end
    end
  end
  local in_answer = {}
  for _, rr in ipairs(answers) do in_answer[rr] = true end
  local kept = {}
  for _, rr in ipairs(additional) do
    if not in_answer[rr] then kept[#kept + 1] = rr end
  end
  return kept
end

function DB:answer(name, qtype)
  local apex = self:apex_of(name)
  if not apex then return nil end
  local result = {rcode = dns.RCODE.NOERROR, answers = {}, authority = {}, additional = {}}
  local seen = {}
  for _ = 1, CNAME_CHAIN_LIMIT do
    local set = self.names[name]
    if not set then
      if not self.nonterminal[name] then result.rcode = dns.RCODE.NXDOMAIN end
      result.authority[1] = self:negative_soa(apex)
      return result
    end
    seen[name] = true
    local cname = set[T.CNAME]
    if cname and qtype ~= T.CNAME and qtype ~= T.ANY then
      result.answers[#result.answers + 1] = cname[1]
      name = cname[1].target
      apex = self:apex_of(name)
      if not apex or seen[name] then return result end   -- outside our zones, or a loop
    else
      -- ANY over UDP: one RRset, the name's first in the zone's order (RFC 8482 4.1, as NSD does).
      local t = qtype == T.ANY and set.order[1] or qtype
      local first = #result.answers
      for _, rr in ipairs(set[t] or {}) do result.answers[#result.answers + 1] = rr end
      if #result.answers == first then
        result.authority[1] = self:negative_soa(apex)
      else
        result.additional = self:additional_for(result.answers)
      end
      return result
    end
  end
  return result
end

-- Whether `name` is `zone` or below it.
local function at_or_below(name, zone)
  return name == zone or name:sub(-(#zone + 1)) == "." .. zone
end

function DB:transfer(apex)
  if not self.apexes[apex] then return nil end
  local soa = self.names[apex][T.SOA][1]
  local owned, cuts = {}, {}
  for name in pairs(self.names) do
    local zone = self:apex_of(name)
    if zone == apex then
      owned[#owned + 1] = name
    elseif zone == name and self:apex_of(parent(name) or "") == apex then
      cuts[#cuts + 1] = name
    end
  end
  table.sort(owned)
  table.sort(cuts)
  local records = {soa}
  for _, name in ipairs(owned) do
    local set = self.names[name]
    for _, t in ipairs(set.order) do
      if t ~= T.SOA then
        for _, rr in ipairs(set[t]) do records[#records + 1] = rr end
      end
    end
  end
  for _, cut in ipairs(cuts) do
    local glued = {}
    for _, ns in ipairs(self.names[cut][T.NS] or {}) do
      records[#records + 1] = ns
      local target = ns.target
      if at_or_below(target, cut) and not glued[target] and self.names[target] then
        glued[target] = true
        for _, t in ipairs({T.A, T.AAAA}) do
          for _, rr in ipairs(self.names[target][t] or {}) do records[#records + 1] = rr end
        end
      end
    end
  end
  records[#records + 1] = soa
  return records
end

return zones
