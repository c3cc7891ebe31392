-- An authoritative DNS responder over UDP (RFC 1035, EDNS0 per RFC 6891) for the records
-- of the `records` setting and the `zone` file. Answers are encoded at load (answers.lua);
-- a query costs a parse with string.byte/string.unpack and one concatenation.
tapir.reassemble = true  -- a query in IPv4 fragments arrives whole
local config = tapir.config
local zone = require "zone"
local answers = require "answers"
local names = require "names"
local query = require "query"

local IP, IPV6 = config.ip, config.ipv6

if config.ttl < 0 or config.ttl > 0x7fffffff then
  error("setting 'ttl' = " .. config.ttl .. " is not a TTL (0 to 2^31 - 1 seconds)", 0)
end
local records = {}
zone.from_setting(config.records, config.ttl, records)
zone.from_file(config.zone, config.ttl, records)
local by_name, name_count = answers.build(records, {synthesize_ptr = config.synthesize_ptr})

-- Counters, kept across reloads in tapir.state.dns, and answered to a CHAOS-class TXT
-- query for counters.dns-responder (as BIND answers version.bind).
local COUNTER_NAMES = {"queries", "noerror", "nxdomain", "refused", "notimp", "formerr", "truncated",
                       "malformed", "ignored"}
tapir.state.dns = tapir.state.dns or {}
local counters = tapir.state.dns
for _, name in ipairs(COUNTER_NAMES) do counters[name] = counters[name] or 0 end
local COUNTERS_QUERY = names.wire("counters.dns-responder")

local OUR_UDP_SIZE = 4096
local PLAIN_DNS_LIMIT = 512
local QR, AA, TC, RD, CD = 0x8000, 0x0400, 0x0200, 0x0100, 0x0010
local RCODE = {noerror = 0, formerr = 1, nxdomain = 3, notimp = 4, refused = 5}
local EDNS_BADVERS = 16
local CLASS_IN, CLASS_CHAOS = 1, 3
local TYPE_TXT, TYPE_OPT, TYPE_IXFR, TYPE_AXFR = 16, 41, 251, 252
local NO_ANSWER = {count = 0, bytes = ""}
local NXDOMAIN = {count = 0, bytes = "", rcode = RCODE.nxdomain}

-- Our OPT RR: root name, type 41, class = our UDP size, TTL = ext-rcode/version/DO, no options.
local function opt_record(extended_rcode, dnssec_ok)
  return "\0" .. string.pack(">I2I2I1I1I2I2", TYPE_OPT, OUR_UDP_SIZE, extended_rcode, 0,
                             dnssec_ok and 0x8000 or 0, 0)
end
local OPT_PLAIN, OPT_DO = opt_record(0, false), opt_record(0, true)

-- The OPT a reply carries: one when the query had one (RFC 6891 6.1.1), DO echoed.
local function our_opt(q)
  if not q.udp_size then return nil end
  return q.dnssec_ok and OPT_DO or OPT_PLAIN
end

local last_malformed_log = -math.huge
local function malformed(pkt, why)
  counters.malformed = counters.malformed + 1
  local now = tapir.now()
  if now - last_malformed_log >= 10000 then
    last_malformed_log = now
    tapir.log.warn(string.format("malformed query from %s dropped: %s (%d malformed so far)",
                                 pkt.ip and pkt.ip.src or pkt.ipv6.src, why, counters.malformed))
  end
end

-- The reply to a parsed query `q` (see query.lua): header, the question as it came,
-- the answer RRs, our OPT when the query had one; cut to the question with TC set when
-- it is over the client's limit.
local function respond(pkt, dev, q, flags, answer, opt)
  local question = q.question_end and q.payload:sub(13, q.question_end) or ""
  local qdcount = q.question_end and 1 or 0
  local additional = opt and 1 or 0
  local rcode = answer.rcode or RCODE.noerror
  local reply = string.pack(">I2I2I2I2I2I2", q.id, flags | rcode, qdcount, answer.count, 0, additional)
      .. question .. answer.bytes .. (opt or "")
  local limit = PLAIN_DNS_LIMIT
  if q.udp_size then limit = math.max(q.udp_size, PLAIN_DNS_LIMIT) end
  if #reply > limit then
    counters.truncated = counters.truncated + 1
    reply = string.pack(">I2I2I2I2I2I2", q.id, flags | TC | rcode, qdcount, 0, 0, additional)
        .. question .. (opt or "")
  end
  dev:write(pkt:reply{payload = reply})
end

-- One TXT RR, "name=value" a string, owned by the question's name.
local function counters_answer()
  local strings = {}
  for i, name in ipairs(COUNTER_NAMES) do
    local text = name .. "=" .. counters[name]
    strings[i] = string.char(#text) .. text
  end
  local rdata = table.concat(strings)
  return {count = 1, bytes = string.pack(">I2I2I2I4s2", 0xC00C, TYPE_TXT, CLASS_CHAOS, 0, rdata)}
end

local FORMERR = {count = 0, bytes = "", rcode = RCODE.formerr}
local NOTIMP = {count = 0, bytes = "", rcode = RCODE.notimp}
local REFUSED = {count = 0, bytes = "", rcode = RCODE.refused}
local parsed = {}   -- reused: no table per query

local function answer_query(pkt, dev)
  local ip = pkt.ip
  if ip then
    if ip.dst ~= IP or ip.mf or ip.frag ~= 0 then return end
  elseif not pkt.ipv6 or pkt.ipv6.dst ~= IPV6 then
    return
  end
  local q, problem = query.parse(pkt.payload, parsed)
  if not q then
    malformed(pkt, problem)
    return true
  end
  if q.is_response then
    counters.ignored = counters.ignored + 1
    return true
  end
  counters.queries = counters.queries + 1
  local flags = QR | (q.flags & (RD | CD)) | (q.flags & 0x7800)   -- opcode echoed
  if q.opcode ~= 0 then
    counters.notimp = counters.notimp + 1
    q.question_end = nil
    respond(pkt, dev, q, flags, NOTIMP, nil)
  elseif q.formerr then
    counters.formerr = counters.formerr + 1
    respond(pkt, dev, q, flags, FORMERR, nil)
  elseif q.edns_version and q.edns_version ~= 0 then
    counters.formerr = counters.formerr + 1   -- counted with FORMERR: a query we cannot read
    respond(pkt, dev, q, flags, NO_ANSWER, opt_record(EDNS_BADVERS >> 4, q.dnssec_ok))
  elseif q.qclass == CLASS_CHAOS and q.qtype == TYPE_TXT
         and q.payload:sub(13, q.name_end):lower() == COUNTERS_QUERY then
    respond(pkt, dev, q, flags | AA, counters_answer(), our_opt(q))
  elseif q.qclass ~= CLASS_IN or q.qtype == TYPE_AXFR or q.qtype == TYPE_IXFR then
    counters.refused = counters.refused + 1
    respond(pkt, dev, q, flags, REFUSED, our_opt(q))
  else
    local entry = by_name[q.payload:sub(13, q.name_end):lower()]
    local answer = NXDOMAIN
    if entry then answer = entry[q.qtype] or entry.other end
    if answer.rcode == RCODE.nxdomain then
      counters.nxdomain = counters.nxdomain + 1
    else
      counters.noerror = counters.noerror + 1
    end
    respond(pkt, dev, q, flags | AA, answer, our_opt(q))
  end
  return true
end

tapir.on("udp", {dport = config.port}, answer_query)

if config.arp then
  tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
    dev:write(pkt:reply{arp = {sha = config.mac}})
    return true
  end)
  -- Neighbour solicitation -> advertisement (solicited, override), hop limit 255 (RFC 4861).
  tapir.on("icmpv6", {type = 135, target = IPV6}, function(pkt, dev)
    if pkt.ipv6.src == "::" then return end
    dev:write(pkt:reply{ipv6 = {src = IPV6, hlim = 255},
                        icmpv6 = {type = 136, flags = 0x60, lladdr = config.mac}})
    return true
  end)
end

tapir.log.debug(string.format("dns-responder: %d records for %d names on %s and %s, UDP port %d",
                             #records, name_count, IP, IPV6, config.port))
