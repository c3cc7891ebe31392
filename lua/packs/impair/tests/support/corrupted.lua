-- Reading what corruption did to a frame.
local corrupted = {}

-- "BYTE.BIT" of each bit that differs between two frames of the same length.
function corrupted.where(before, after)
  test.equal(#after, #before, "the length is kept")
  local flips = {}
  for i = 1, #before do
    local diff = before:byte(i) ~ after:byte(i)
    for bit = 0, 7 do
      if diff & (1 << bit) ~= 0 then flips[#flips + 1] = (i - 1) .. "." .. bit end
    end
  end
  return table.concat(flips, ",")
end

-- One bit differs, in the payload, and outside it only the checksum may differ.
function corrupted.one_bit_in_the_payload(before, after)
  local a, b = test.decode(before), test.decode(after)
  local payload_at = #before - #a.payload
  local head_diff = 0
  for i = 1, payload_at do
    if before:byte(i) ~= after:byte(i) then head_diff = head_diff + 1 end
  end
  test.expect(head_diff <= 2, "only the checksum's two bytes may change in the headers, " .. head_diff .. " did")
  test.equal(corrupted.where(a.payload, b.payload):find(",") , nil, "one bit of the payload")
  test.expect(a.payload ~= b.payload, "the payload changed")
end

-- Injects `sent` on device 1 and checks each frame out of device 2: one bit flipped in its
-- payload, and its transport checksum verifying as `checksum_ok` says.
function corrupted.check_each(sent, checksum_ok)
  for _, frame in ipairs(sent) do test.inject(frame, 1) end
  local out = test.written(2)
  test.equal(#out, #sent)
  for i, frame in ipairs(out) do
    corrupted.one_bit_in_the_payload(sent[i], frame)
    local decoded = test.decode(frame)
    local layer = decoded.udp or decoded.tcp or decoded.icmp
    test.equal(layer.chksum_ok, checksum_ok, "frame " .. i .. "'s checksum")
  end
end

return corrupted
