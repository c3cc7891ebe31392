-- A hub: every frame goes out of every other device. Logs the devices it serves at start.
local names = {}
for _, dev in ipairs(tapir.devices()) do names[#names + 1] = dev.id .. "=" .. dev.name .. "/" .. dev.mode end
tapir.log.info("devices " .. table.concat(names, " "))

tapir.on("frame", function(pkt, dev)
  for _, other in ipairs(tapir.devices()) do
    if other.id ~= dev.id then other:write(pkt) end
  end
  return true
end)
