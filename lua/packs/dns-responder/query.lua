-- A DNS query's header, question and EDNS0 OPT, read in place (require "query").
--
-- query.parse(payload, q) fills the reused table `q` and returns it, or returns nil and
-- why the datagram is malformed: shorter than its header, a name past the end, a label
-- length over 63, a name over 255 bytes, a compression pointer in the question (there is
-- nothing before it to point at) or one that does not point back (a loop), counts that
-- claim more records than there are bytes. A query that reads well but that we cannot
-- answer (no or several questions, a second OPT, an OPT not at the root, a malformed
-- option list) sets `q.formerr`.
local byte, unpack = string.byte, string.unpack

local query = {}

local TYPE_OPT = 41
local MAX_NAME_LENGTH = 255

-- The position after the name at `pos`, or nil and why not. Pointers end a name here
-- (it is skipped, not followed), so a loop cannot trap us; they must point back.
local function skip_name(p, pos, pointers_allowed)
  local start = pos
  while true do
    local length = byte(p, pos)
    if not length then return nil, "a name runs past the end" end
    if length == 0 then
      if pos + 1 - start > MAX_NAME_LENGTH then return nil, "a name over 255 bytes" end
      return pos + 1
    end
    if length >= 0xC0 then
      if not pointers_allowed then return nil, "a compression pointer in the question" end
      local low = byte(p, pos + 1)
      if not low then return nil, "a name runs past the end" end
      if ((length & 0x3F) << 8 | low) + 1 >= start then
        return nil, "a compression pointer that does not point back (a loop)"
      end
      return pos + 2
    end
    if length > 63 then return nil, "a label length of " .. length end
    pos = pos + 1 + length
  end
end

-- Reads the OPT RR whose fixed fields start at `pos` (its owner name at `owner`).
local function read_opt(p, q, owner, pos, rdata_end)
  if q.udp_size or owner ~= pos - 1 or byte(p, owner) ~= 0 then
    q.formerr = true   -- a second OPT, or one whose owner is not the root
    return
  end
  local size, _, version, flags = unpack(">I2I1I1I2", p, pos + 2)   -- class, TTL's fields
  q.udp_size, q.edns_version, q.dnssec_ok = size, version, flags & 0x8000 ~= 0
  local option = pos + 10
  while option < rdata_end do
    if option + 3 >= rdata_end then q.formerr = true return end
    option = option + 4 + unpack(">I2", p, option + 2)
  end
  if option ~= rdata_end then q.formerr = true end
end

function query.parse(p, q)
  if #p < 12 then return nil, "shorter than a DNS header" end
  local id, flags, qdcount, ancount, nscount, arcount = unpack(">I2I2I2I2I2I2", p)
  q.payload, q.id, q.flags = p, id, flags
  q.opcode = (flags >> 11) & 0xF
  q.is_response = flags & 0x8000 ~= 0
  q.question_end, q.name_end, q.qtype, q.qclass = nil, nil, nil, nil
  q.udp_size, q.edns_version, q.dnssec_ok, q.formerr = nil, nil, false, qdcount ~= 1
  if q.is_response or q.opcode ~= 0 then return q end

  local pos = 13
  for i = 1, qdcount do
    local after, problem = skip_name(p, pos, i > 1)
    if not after then return nil, problem end
    if after + 3 > #p then return nil, "a question runs past the end" end
    if i == 1 then
      q.name_end = after - 1
      q.qtype, q.qclass = unpack(">I2I2", p, after)
      if qdcount == 1 then q.question_end = after + 3 end
    end
    pos = after + 4
  end
  local additional_from = ancount + nscount + 1
  for i = 1, ancount + nscount + arcount do
    local owner = pos
    local after, problem = skip_name(p, pos, true)
    if not after then return nil, problem end
    if after + 9 > #p then return nil, "a record runs past the end (the counts claim more)" end
    local rr_type = unpack(">I2", p, after)
    local rdata_end = after + 10 + unpack(">I2", p, after + 8)
    if rdata_end - 1 > #p then return nil, "a record's data runs past the end" end
    if rr_type == TYPE_OPT and i >= additional_from then read_opt(p, q, owner, after, rdata_end) end
    pos = rdata_end
  end
  return q
end

return query
