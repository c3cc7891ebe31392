-- Frames for the impair tests, and ways to read what crossed.
local frames = {}

frames.A_MAC, frames.B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
frames.A_IP, frames.B_IP = "198.18.0.1", "198.18.0.2"

-- An echo request from A to B (an echo reply from B to A with `reply`), sequence `seq`.
function frames.ping(seq, reply)
  local src_mac, dst_mac, src, dst = frames.A_MAC, frames.B_MAC, frames.A_IP, frames.B_IP
  if reply then src_mac, dst_mac, src, dst = dst_mac, src_mac, dst, src end
  return tapir.build.eth{src = src_mac, dst = dst_mac, type = 0x0800}
      .. tapir.build.ip{src = src, dst = dst, proto = 1,
                        payload = tapir.build.icmp{type = reply and 0 or 8, id = 7, seq = seq, payload = "abcdefgh"}}
end

-- A UDP datagram from A to B whose data is `seq` as text, padded to `size` bytes of data.
function frames.udp(seq, size, dport)
  local data = tostring(seq)
  if size then data = data .. string.rep(".", size - #data) end
  return tapir.build.eth{src = frames.A_MAC, dst = frames.B_MAC, type = 0x0800}
      .. tapir.build.ip{src = frames.A_IP, dst = frames.B_IP, proto = 17,
                        payload = tapir.build.udp{sport = 40000, dport = dport or 9, payload = data}}
end

function frames.tcp(payload)
  return tapir.build.eth{src = frames.A_MAC, dst = frames.B_MAC, type = 0x0800}
      .. tapir.build.ip{src = frames.A_IP, dst = frames.B_IP, proto = 6,
                        payload = tapir.build.tcp{sport = 40000, dport = 80, seq = 1000, ack = 1, flags = "P.",
                                                  payload = payload}}
end

function frames.udp6(payload)
  return tapir.build.eth{src = frames.A_MAC, dst = frames.B_MAC, type = 0x86dd}
      .. tapir.build.ipv6{src = "2001:2::1", dst = "2001:2::2", nxt = 17,
                          payload = tapir.build.udp{sport = 40000, dport = 9, payload = payload}}
end

-- What identifies each frame (bytes, or a packet): an ICMP echo's seq, a UDP datagram's number.
function frames.ids(list)
  local ids = {}
  for i, bytes in ipairs(list) do
    if type(bytes) ~= "string" then bytes = bytes:bytes() end  -- a packet (frames.packet)
    local frame = test.decode(bytes)
    ids[i] = frame.icmp and frame.icmp.seq or tonumber(frame.payload:match("^%d+"))
  end
  return ids
end

function frames.text(ids)
  local parts = {}
  for i, id in ipairs(ids) do parts[i] = tostring(id) end
  return table.concat(parts, " ")
end

-- Injects `list` (frames) into device `from`, one a millisecond, and lets the clock run
-- to `ms` milliseconds in all; each frame written to device `to` on the way as "ID@T" (T:
-- milliseconds since the first was injected), in the order written.
function frames.timeline(list, from, to, ms)
  local seen = {}
  for t = 0, ms do
    if list[t + 1] then test.inject(list[t + 1], from) end
    for _, id in ipairs(frames.ids(test.written(to))) do seen[#seen + 1] = id .. "@" .. t end
    test.advance(1)
  end
  return table.concat(seen, " ")
end

-- A decoded frame that answers as a packet does (fields, pkt:bytes(), #pkt): for the
-- pack's modules tested on their own.
function frames.packet(bytes)
  return setmetatable(test.decode(bytes), {__index = {bytes = function() return bytes end},
                                           __len = function() return #bytes end})
end

return frames
