-- An authoritative DNS responder over UDP and TCP (RFC 1035, negative answers RFC 2308,
-- EDNS0 RFC 6891, TCP RFC 7766) for the zones of the `zone` file and the `records`
-- setting. Messages are read and written with tapir.proto.dns; the answers come from
-- zones.lua. Over UDP an answer larger than the client's limit is cut to its question with
-- TC set, so the client asks again over TCP, where it comes whole. The clients of the
-- `transfer` setting get whole zones over TCP (AXFR, RFC 5936).
tapir.reassemble = true  -- a query in fragments arrives whole
tapir.verify_checksums = true  -- a datagram whose checksum fails is dropped, as Linux does
local config = tapir.config
local dns = require "tapir.proto.dns"
local Counters = require "tapir.counters"
local neighbours = require "tapir.neighbours"
local zone = require "zone"
local zones = require "zones"
local addr = require "tapir.addr"

local IP, IPV6 = config.ip, config.ipv6

-- First, so frames to another unicast MAC reach no later handler; ARP and neighbour
-- solicitations answered unless `arp` is off (another pack answers them).
neighbours.new{mac = config.mac, ipv4 = IP, ipv6 = IPV6, answer = config.arp}:start()

if config.ttl < 0 or config.ttl > 0x7fffffff then
  error("setting 'ttl' = " .. config.ttl .. " is not a TTL (0 to 2^31 - 1 seconds)", 0)
end

-- $INCLUDE reads files of `include_dir`, with io (granted by --allow io).
local function include_reader()
  if config.include_dir == "" then
    return nil, "needs the zone's folder: --set include_dir=FOLDER --allow io"
  end
  local open = type(io) == "table" and rawget(io, "open")
  if not open then return nil, "reading another file needs permission 'io': run with --allow io" end
  return function(name)
    local file, why = open(config.include_dir .. "/" .. name, "r")
    if not file then return nil, "cannot read it: " .. tostring(why) end
    local text = file:read("a")
    file:close()
    return text
  end
end

local records, problem = zone.from_setting(config.records, config.ttl)
if not records then error(problem, 0) end
local read, no_include = include_reader()
local from_file
from_file, problem = zone.from_file(config.zone, "zone", {ttl = config.ttl, read = read, no_include = no_include})
if not from_file then error(problem, 0) end
for _, rr in ipairs(from_file) do records[#records + 1] = rr end
local db
db, problem = zones.build(records, {synthesize_ptr = config.synthesize_ptr, soa = config.soa, ttl = config.ttl})
if not db then error(problem, 0) end

-- The clients allowed a zone transfer, by their address as the host writes it.
local transfer_clients = {}
for item in config.transfer:gmatch("[^,]+") do
  local text = item:match("^%s*(.-)%s*$")
  local family = addr.family(text)
  local canonical = (family == "ipv4" or family == "ipv6") and addr.normal(text)
  if not canonical then
    error("setting 'transfer': '" .. text .. "' is not an IPv4 or IPv6 address", 0)
  end
  transfer_clients[canonical] = true
end

-- Counters, kept across reloads in tapir.state.dns, and answered to a CHAOS-class TXT
-- query for counters.dns-responder (as BIND answers version.bind).
local counters = Counters.new{key = "dns", names = {"queries", "noerror", "nxdomain", "refused", "notimp", "formerr",
                                                    "truncated", "malformed", "ignored", "tcp_connections", "tcp_queries",
                                                    "transfers"}}
local COUNTERS_QUERY = "counters.dns-responder"

local OUR_UDP_SIZE = 4096
local PLAIN_DNS_LIMIT = 512
local T, RCODE, CLASS = dns.TYPE, dns.RCODE, dns.CLASS

local last_malformed_log = -math.huge
local function malformed(from, why)
  counters:add("malformed")
  local now = tapir.now()
  if now - last_malformed_log >= 10000 then
    last_malformed_log = now
    tapir.log.warn(string.format("malformed query from %s dropped: %s (%d malformed so far)",
                                 from, why, counters.malformed))
  end
end

-- The reply to the query `q`: `fields` over a header with the ID, opcode, RD and CD
-- echoed, QR set, the question as it came (when there was one), and an OPT when the query
-- had one (RFC 6891 6.1.1: our UDP size, DO echoed), errors included.
local function respond(q, fields)
  local reply = {id = q.id, qr = true, opcode = q.opcode, rd = q.rd, cd = q.cd, aa = fields.aa,
                 rcode = fields.rcode or RCODE.NOERROR, questions = fields.questions or q.questions,
                 answers = fields.answers, authority = fields.authority, additional = fields.additional}
  if q.edns then reply.edns = {udp_size = OUR_UDP_SIZE, dnssec_ok = q.edns.dnssec_ok, options = fields.options} end
  return reply
end

-- The reply's bytes, at most `limit` of them: when over, cut to the header, question and
-- OPT with TC set.
local function encode(reply, limit)
  local bytes, why = dns.encode(reply)
  if not bytes then error("cannot encode the answer: " .. why, 0) end
  if #bytes > limit then
    counters:add("truncated")
    reply.tc, reply.answers, reply.authority, reply.additional = true, nil, nil, nil
    bytes = assert(dns.encode(reply))
  end
  return bytes
end

-- One TXT RR, "name=value" a string, owned by the question's name.
local function counters_answer(q)
  return {{name = q.questions[1].name, type = T.TXT, class = CLASS.CH, ttl = 0, strings = counters:list()}}
end

local NO_QUESTION = {}
-- Extended DNS error 20, "Not Authoritative" (RFC 8914), in the OPT of a REFUSED for a
-- name outside our zones.
local NOT_AUTHORITATIVE = {{code = 15, data = string.pack(">I2", 20)}}

-- Messages of a zone transfer carry up to this many bytes of records each (RFC 5936 2.2:
-- any size up to 65535; NSD and BIND send about 16 KB).
local TRANSFER_MESSAGE_BYTES = 16000

-- The messages of a zone transfer to the query `q` from an allowed client: the zone's
-- records (db:transfer) spread over messages, the question in the first only (RFC 5936
-- 2.2.1); NOTAUTH for a name that is no zone's apex.
local function transfer(q)
  local question = q.questions[1]
  local records = db:transfer(dns.canonical(question.name))
  if not records then
    counters:add("refused")
    return {respond(q, {rcode = RCODE.NOTAUTH})}
  end
  counters:add("transfers")
  local messages, current, size = {}, {}, 0
  for _, rr in ipairs(records) do
    local rr_size = #assert(dns.encode({answers = {rr}})) - 12
    if #current > 0 and size + rr_size > TRANSFER_MESSAGE_BYTES then
      messages[#messages + 1] = current
      current, size = {}, 0
    end
    current[#current + 1] = rr
    size = size + rr_size
  end
  messages[#messages + 1] = current
  for i, answers in ipairs(messages) do
    messages[i] = respond(q, {aa = true, answers = answers, questions = i > 1 and NO_QUESTION or nil})
    if i > 1 then messages[i].edns = nil end
  end
  return messages
end

-- The query `q` and the reply to a query's bytes (a table for dns.encode), or nil when it
-- gets none (malformed, or a response); `from` names the client in the log. Over TCP
-- (`over_tcp`) a zone transfer's reply is a list of messages (the third value).
local function reply_to(payload, from, over_tcp)
  local q, why = dns.decode(payload)
  if not q then
    -- A header we can read with an opcode we do not serve is answered NOTIMP all the same.
    local flags = #payload >= 12 and string.unpack(">I2", payload, 3)
    if not flags or flags & 0x8000 ~= 0 or (flags >> 11) & 0xF == 0 then
      malformed(from, why)
      return nil
    end
    q = {id = string.unpack(">I2", payload), opcode = (flags >> 11) & 0xF, rd = flags & 0x0100 ~= 0,
         cd = flags & 0x0010 ~= 0, questions = NO_QUESTION}
  end
  if q.qr then
    counters:add("ignored")
    return nil
  end
  counters:add("queries")
  local question = q.questions[1]
  if q.opcode ~= 0 then
    counters:add("notimp")
    return q, respond(q, {rcode = RCODE.NOTIMP, questions = NO_QUESTION})
  elseif #q.questions ~= 1 then
    counters:add("formerr")
    return q, respond(q, {rcode = RCODE.FORMERR, questions = NO_QUESTION})
  elseif q.edns_error then
    counters:add("formerr")
    return q, respond(q, {rcode = RCODE.FORMERR})
  elseif q.edns and q.edns.version ~= 0 then
    counters:add("formerr")   -- counted with FORMERR: a query we cannot read
    return q, respond(q, {rcode = RCODE.BADVERS})
  elseif question.class == CLASS.CH and question.type == T.TXT
         and dns.canonical(question.name) == COUNTERS_QUERY then
    return q, respond(q, {aa = true, answers = counters_answer(q)})
  elseif (question.type == T.AXFR or question.type == T.IXFR) and question.class == CLASS.IN
         and over_tcp and transfer_clients[from] then
    -- IXFR is answered with the whole zone, as RFC 1995 4 allows a server to.
    local messages = transfer(q)
    return q, messages[1], messages
  elseif question.class ~= CLASS.IN or question.type == T.AXFR or question.type == T.IXFR then
    counters:add("refused")
    return q, respond(q, {rcode = RCODE.REFUSED})
  else
    local answer = db:answer(dns.canonical(question.name), question.type)
    if not answer then
      counters:add("refused")
      return q, respond(q, {rcode = RCODE.REFUSED, options = NOT_AUTHORITATIVE})
    else
      if answer.rcode == RCODE.NXDOMAIN then
        counters:add("nxdomain")
      else
        counters:add("noerror")
      end
      return q, respond(q, {aa = true, rcode = answer.rcode, answers = answer.answers,
                            authority = answer.authority, additional = answer.additional})
    end
  end
end

local function answer_udp(pkt, dev)
  local ip = pkt.ip
  if ip then
    if ip.dst ~= IP or ip.mf or ip.frag ~= 0 then return end
  elseif not pkt.ipv6 or pkt.ipv6.dst ~= IPV6 then
    return
  end
  local q, reply = reply_to(pkt.payload, ip and ip.src or pkt.ipv6.src)
  if reply then
    local limit = PLAIN_DNS_LIMIT
    if q.edns then limit = math.max(q.edns.udp_size, PLAIN_DNS_LIMIT) end
    dev:write(pkt:reply{payload = encode(reply, limit)})
  end
  return true
end

tapir.on("udp", {dport = config.port}, answer_udp)

-- `count` bytes of what `conn` sends, by `deadline` (tapir.now milliseconds), else nil.
-- (conn:receive's timeout is how long it waits for more data: a client sending a byte now
-- and then would hold it for ever. receiveany with what is left of the deadline cannot.)
local function reader(conn)
  local buffer = ""
  return function(count, deadline)
    while #buffer < count do
      local left = deadline - tapir.now()
      if left <= 0 then return nil end
      conn:settimeout(math.ceil(left))
      local data = conn:receiveany(65536)
      if not data then return nil end
      buffer = buffer .. data
    end
    local bytes = buffer:sub(1, count)
    buffer = buffer:sub(count + 1)
    return bytes
  end
end

-- RFC 7766: over TCP each message has a two-byte length before it; a connection carries
-- queries one after another (answered in turn) until the client closes it or sends no
-- length for `tcp_idle` ms; a query whose bytes do not all come within `tcp_idle` ms of its
-- length closes it too. No truncation but the 65535 bytes a length can say.
local function serve_tcp(conn)
  counters:add("tcp_connections")
  local read = reader(conn)
  while true do
    local prefix = read(2, tapir.now() + config.tcp_idle)
    if not prefix then return end
    local length = string.unpack(">I2", prefix)
    local message = read(length, tapir.now() + config.tcp_idle)
    if not message then return end
    counters:add("tcp_queries")
    local _, reply, messages = reply_to(message, conn.peer.ip, true)
    for _, each in ipairs(messages or {reply}) do
      local bytes = encode(each, 65535)
      if not conn:send(string.pack(">s2", bytes)) then return end
    end
  end
end

if config.tcp then
  tapir.tcp.listen({port = config.port, ip = IP, mac = config.mac}, serve_tcp)
  tapir.tcp.listen({port = config.port, ipv6 = IPV6, mac = config.mac}, serve_tcp)
end

tapir.log.debug(string.format("dns-responder: %d records for %d names in zones %s, on %s and %s, port %d",
                             #records, db.count, table.concat(db:zone_list(), " "), IP, IPV6, config.port))
