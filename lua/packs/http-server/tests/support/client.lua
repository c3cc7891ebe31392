-- HTTP over the scripted TCP peer: requests as text, responses parsed back (written here
-- without the pack's http.lua, so a mistake there cannot hide itself).
local tcp = require "tapir.testing.tcp"
local client = {}

function client.connect()
  tcp.reset()
  local peer = tcp.peer{dst = test.config.ip, dst_mac = test.config.mac, dport = test.config.port}
  test.expect(peer:connect(), "the pack's port accepts")
  return peer
end

-- One response off the front of what `peer` received, waiting for it (ms, default
-- 1000): {status, reason, headers (lower-case names), body}, or nil. `head`: no body.
function client.response(peer, head, limit)
  local function complete(data)
    local ending = data:find("\r\n\r\n", 1, true)
    if not ending then return false end
    if head then return ending + 3 end
    local length = data:sub(1, ending + 3):match("\r\n[Cc]ontent%-[Ll]ength: (%d+)\r\n")
    local total = ending + 3 + tonumber(length or "0")
    return #data >= total and total
  end
  local total = peer:read_until(complete, limit or 1000)
  if not total then return nil end
  local text = peer:take(total)
  local head_end = text:find("\r\n\r\n", 1, true)
  local status, reason = text:match("^HTTP/1%.1 (%d%d%d) ([^\r]*)\r\n")
  local response = {status = tonumber(status), reason = reason, headers = {}, body = text:sub(head_end + 4)}
  for name, value in text:sub(1, head_end + 1):gmatch("\n([^:\r\n]+): ([^\r]*)\r") do
    response.headers[name:lower()] = value
  end
  return response
end

-- Sends `request` and returns its response.
function client.exchange(peer, request, head)
  peer:send(request)
  return client.response(peer, head)
end

function client.get(path, extra)
  return "GET " .. path .. " HTTP/1.1\r\nHost: test\r\n" .. (extra or "") .. "\r\n"
end

return client
