-- Echo (RFC 862), discard (RFC 863) and chargen (RFC 864) over TCP. The host's TCP engine
-- accepts; each connection runs here as its own task. Counters go in tapir.state, so a
-- reload keeps them.
tapir.verify_checksums = true  -- a packet whose checksum fails is dropped, as Linux does
local config = tapir.config
local Counters = require "tapir.counters"
local neighbours = require "tapir.neighbours"
local served = Counters.new{key = "served", names = {"echo", "discard", "chargen", "bytes"}}

-- ARP and neighbour solicitations for the addresses; frames to another unicast MAC ignored.
neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6}:start()
local CHUNK = 65536

local function timeout(conn)
  if config.idle > 0 then conn:settimeout(config.idle) end
end

local function echo(conn)
  served.echo = served.echo + 1
  timeout(conn)
  while true do
    local data = conn:receiveany(CHUNK)
    if not data then break end
    served.bytes = served.bytes + #data
    if not conn:send(data) then break end
  end
end

local function discard(conn)
  served.discard = served.discard + 1
  timeout(conn)
  while true do
    local data = conn:receiveany(CHUNK)
    if not data then break end
    served.bytes = served.bytes + #data
  end
end

-- RFC 864: lines of 72 printable characters (32-126), each starting one further along the
-- 95-character ring, ending in CR LF.
local RING = {}
for code = 32, 126 do RING[#RING + 1] = string.char(code) end
local RING_TEXT = table.concat(RING)
local LINES = {}
for first = 0, 94 do
  local doubled = RING_TEXT .. RING_TEXT
  LINES[first + 1] = doubled:sub(first + 1, first + 72) .. "\r\n"
end
local BLOCK = table.concat(LINES)  -- one full turn of the ring: 95 lines

local function chargen(conn)
  served.chargen = served.chargen + 1
  timeout(conn)
  tapir.spawn(function()  -- what the client sends is read and dropped; its FIN ends the generator
    while conn:receiveany(CHUNK) do end
    conn:shutdown()
  end)
  while conn:send(BLOCK) do served.bytes = served.bytes + #BLOCK end
end

local function serve(ports, fn)
  for _, port in ipairs(ports) do
    tapir.tcp.listen({port = port, ip = config.ip, mac = config.mac}, fn)
    tapir.tcp.listen({port = port, ipv6 = config.ipv6, mac = config.mac}, fn)
  end
end
serve(config.echo, echo)
serve(config.discard, discard)
serve(config.chargen, chargen)
