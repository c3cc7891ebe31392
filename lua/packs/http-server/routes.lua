-- The pack's own routes (setting routes = true): edit or add here, or call router.add
-- from another handler file of a pack built on this one.
local router = require "router"

-- Counters: requests and connections served, answers by status.
router.add("GET", "/status", function()
  local served = tapir.state.served
  local statuses = {}
  for status, count in pairs(served.statuses) do statuses[#statuses + 1] = string.format('"%s": %d', status, count) end
  table.sort(statuses)
  local body = string.format('{"connections": %d, "requests": %d, "statuses": {%s}}\n',
                             served.connections, served.requests, table.concat(statuses, ", "))
  return 200, {["Content-Type"] = "application/json", ["Cache-Control"] = "no-store"}, body
end)

-- The request's body back, with its type.
router.add("POST", "/echo", function(request)
  return 200, {["Content-Type"] = request.headers["content-type"] or "application/octet-stream"}, request.body
end)
