-- A scripted TCP peer for pack tests (`tapir test`): it talks to the host's TCP engine,
-- and so to a pack's tapir.tcp listeners, through test.inject and test.written, segment by
-- segment, with the test's manual clock. Written here on purpose without the engine's
-- code, so a mistake there cannot hide itself.
--
--   local tcp = require "tapir.testing.tcp"
--   local peer = tcp.peer{dst = test.config.ip, dst_mac = test.config.mac, dport = 80}
--   test.expect(peer:connect(), "connected")
--   peer:send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
--   local answer = peer:read_until(function(data) return data:find("\r\n\r\n") end)
--
-- Each peer has its own source port; frames the pack writes are handed to the peer they
-- are for (test.written() is shared by every peer of a test).
local M = {}

local peers = {}        -- source port -> peer
local next_port = 40000
M.others = {}           -- decoded frames written that were for no peer

local Peer = {}
Peer.__index = Peer

-- A peer from `src` (198.18.0.1, or 2001:2::1 to an IPv6 `dst`; MAC 02:00:00:00:00:01)
-- to dst:dport; nothing is sent yet.
function M.peer(fields)
  next_port = next_port + 1
  local ipv6 = fields.dst:find(":", 1, true) ~= nil
  local peer = setmetatable({
    src = fields.src or (ipv6 and "2001:2::1" or "198.18.0.1"), dst = fields.dst, sport = fields.sport or next_port, dport = fields.dport,
    src_mac = fields.src_mac or "02:00:00:00:00:01", dst_mac = fields.dst_mac,
    seq = fields.isn or 1000, rcv_nxt = nil, window = fields.window or 65535, mss = fields.mss or 1460,
    received = "", fin = false, reset = false, segments = {},
    unsent = "", snd_una = nil, snd_wnd = 0,
  }, Peer)
  peer.ipv6 = ipv6
  peers[peer.sport] = peer
  return peer
end

function Peer:frame(flags, payload, seq)
  local tcp = tapir.build.tcp{sport = self.sport, dport = self.dport, seq = seq or self.seq, ack = self.rcv_nxt or 0,
                              flags = flags, window = self.window, payload = payload or "",
                              options = flags == "S" and string.pack(">BBI2", 2, 4, self.mss) or nil}
  if self.ipv6 then
    return tapir.build.eth{src = self.src_mac, dst = self.dst_mac, type = 0x86dd}
        .. tapir.build.ipv6{src = self.src, dst = self.dst, nxt = 6, payload = tcp}
  end
  return tapir.build.eth{src = self.src_mac, dst = self.dst_mac, type = 0x0800}
      .. tapir.build.ip{src = self.src, dst = self.dst, proto = 6, payload = tcp}
end

-- Takes what the pack wrote and hands each segment to its peer: in-order data is kept
-- (peer.received), the peer's rcv_nxt moves on, FIN and RST noted. Returns whether any
-- segment came for a peer that needs an ACK.
function M.collect()
  local due = {}
  for _, bytes in ipairs(test.written()) do
    local frame = test.decode(bytes)
    local peer = frame.tcp and peers[frame.tcp.dport]
    if peer and frame.tcp.sport == peer.dport then
      peer:segment(frame.tcp, frame.payload or "")
      if peer.ack_due then due[#due + 1] = peer end
    else
      M.others[#M.others + 1] = frame
    end
  end
  for _, peer in ipairs(due) do
    peer.ack_due = false
    if not peer.reset and not peer:push() then test.inject(peer:frame("A")) end
  end
  for _, peer in pairs(peers) do
    if #peer.unsent > 0 and not peer.reset then peer:push() end
  end
  return #due > 0
end

local function before(a, b) return ((a - b) & 0xffffffff) >= 0x80000000 end

function Peer:segment(tcp, payload)
  self.segments[#self.segments + 1] = {flags = tcp.flags, seq = tcp.seq, ack = tcp.ack, length = #payload,
                                       window = tcp.window}
  local flags = tcp.flags
  if flags & 0x04 ~= 0 then self.reset = true return end
  if flags & 0x10 ~= 0 then  -- what they acknowledge, and their window from there
    if not self.snd_una or not before(tcp.ack, self.snd_una) then
      self.snd_una, self.snd_wnd = tcp.ack, tcp.window
    end
  end
  if flags & 0x02 ~= 0 then  -- SYN-ACK
    self.syn_ack = tcp
    self.rcv_nxt = (tcp.seq + 1) & 0xffffffff
    return
  end
  if not self.rcv_nxt then return end
  local seq = tcp.seq
  if #payload > 0 then
    self.ack_due = true
    if not before(self.rcv_nxt, seq) then  -- not beyond what we have: take the new part
      local skip = (self.rcv_nxt - seq) & 0xffffffff
      if skip < #payload then
        self.received = self.received .. payload:sub(skip + 1)
        self.rcv_nxt = (seq + #payload) & 0xffffffff
      end
    end
  end
  if flags & 0x01 ~= 0 and ((seq + #payload) & 0xffffffff) == self.rcv_nxt then
    self.fin = true
    self.rcv_nxt = (self.rcv_nxt + 1) & 0xffffffff
    self.ack_due = true
  end
end

-- The three-way handshake; true once the SYN-ACK came and was acknowledged.
function Peer:connect()
  test.inject(self:frame("S"))
  M.collect()
  if not self.syn_ack then return false end
  self.seq = (self.seq + 1) & 0xffffffff
  test.inject(self:frame("A"))
  return true
end

-- Queues data and sends what the server's window takes now, in segments of at most mss
-- bytes (PSH on the last); the rest goes as acknowledgements open the window (collect).
-- Nothing is retransmitted: the memory device loses nothing.
function Peer:send(data)
  self.unsent = self.unsent .. data
  self:push()
end

-- Sends what the window allows of what is queued; true when anything went.
function Peer:push()
  local in_flight = self.snd_una and ((self.seq - self.snd_una) & 0xffffffff) or 0
  local room = (self.snd_una and self.snd_wnd or 65535) - in_flight
  local sent = false
  while #self.unsent > 0 and room > 0 do
    local piece = self.unsent:sub(1, math.min(self.mss, room))
    self.unsent = self.unsent:sub(#piece + 1)
    room = room - #piece
    test.inject(self:frame(#self.unsent == 0 and "PA" or "A", piece))
    self.seq = (self.seq + #piece) & 0xffffffff
    sent = true
  end
  return sent
end

-- A FIN (after what was sent).
function Peer:close()
  test.inject(self:frame("FA"))
  self.seq = (self.seq + 1) & 0xffffffff
end

-- Lets the pack's clock run `ms` (default 1) and takes what was written.
function Peer:run(ms)
  test.advance(ms or 1)
  M.collect()
end

-- Runs the clock in steps of `step` ms (default 1) until done(received) is true, the
-- peer got a FIN or a reset, or `limit` ms have passed (default 1000); returns
-- done(received) or false.
function Peer:read_until(done, limit, step)
  local waited = 0
  limit, step = limit or 1000, step or 1
  while true do
    local result = done(self.received)
    if result then return result end
    if self.fin or self.reset or waited >= limit then return false end
    self:run(step)
    waited = waited + step
  end
end

-- Takes `count` bytes off the front of what was received (all of it when nil).
function Peer:take(count)
  count = count or #self.received
  local data = self.received:sub(1, count)
  self.received = self.received:sub(count + 1)
  return data
end

-- Forgets the peers of the test before (each test gets a fresh host).
function M.reset()
  peers = {}
  M.others = {}
end

return M
