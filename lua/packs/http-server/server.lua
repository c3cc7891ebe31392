-- An HTTP/1.1 server (RFC 9110, RFC 9112) on the host's TCP engine: each connection is a
-- task reading requests one after another (persistent connections; pipelined requests are
-- answered in order), answered from the routes (router.lua, routes.lua), then from the
-- files of the `root` folder the host read at start. Counters go in tapir.state.
local config = tapir.config
local neighbours = require "tapir.neighbours"
local http = require "http"
local router = require "router"
if config.routes then require "routes" end

tapir.state.served = tapir.state.served or {connections = 0, requests = 0, statuses = {}}
local served = tapir.state.served
local SERVER = "tapir-http-server"
local files = config.root
local limits = {line = config.max_line, header = config.max_header, body = config.max_body,
                idle = config.idle, header_time = config.header_timeout}

local function count(status)
  local key = tostring(status)
  served.statuses[key] = (served.statuses[key] or 0) + 1
end

local function plain(status, extra)
  local headers = {["Content-Type"] = "text/plain; charset=utf-8"}
  for name, value in pairs(extra or {}) do headers[name] = value end
  return status, headers, string.format("%d %s\n", status, http.REASONS[status])
end

-- A file of the folder: the path itself, or the index file of a path ending in "/" (a
-- folder's path without the "/" is redirected to it).
local function static(request)
  local path = request.path
  local body = files[path:sub(-1) == "/" and path .. config.index or path]
  if body == nil then
    if path:sub(-1) ~= "/" and files[path .. "/" .. config.index] then
      if request.method ~= "GET" and request.method ~= "HEAD" then return plain(405, {Allow = "GET, HEAD"}) end
      local location = path .. "/" .. (request.query ~= "" and "?" .. request.query or "")
      return plain(301, {Location = location})
    end
    return plain(404)
  end
  if request.method ~= "GET" and request.method ~= "HEAD" then return plain(405, {Allow = "GET, HEAD"}) end
  local name = path:sub(-1) == "/" and config.index or path
  return 200, {["Content-Type"] = http.content_type(name)}, body
end

local function answer(request, conn)
  local route, allowed = router.find(request.method, request.path)
  if route then
    request.peer = conn.peer
    local ok, status, headers, body = pcall(route, request)
    if not ok or math.type(status) ~= "integer" or status < 100 or status > 999 then
      tapir.log.error(request.method .. " " .. request.path .. ": " .. (ok and "a route must return a status" or tostring(status)))
      return plain(500)
    end
    return status, headers or {}, body or ""
  end
  if allowed then return plain(405, {Allow = table.concat(allowed, ", ")}) end
  return static(request)
end

-- After the last answer: no more sending, and what the client still sends is read for a
-- while, so a close with unread data (RFC 1122's reset) does not destroy the answer.
local function linger(conn)
  conn:shutdown()
  conn:settimeout(2000)
  local left = 1 << 20
  while left > 0 do
    local data = conn:receiveany(65536)
    if not data then return end
    left = left - #data
  end
end

local function serve(conn)
  served.connections = served.connections + 1
  local handled = 0
  local reader = http.reader(conn)
  while true do
    local request, status, why = http.read_request(reader, limits)
    if not request then
      if status then
        tapir.log.debug("answering " .. status .. " to " .. conn.peer.ip .. ": " .. tostring(why))
        count(status)
        local code, headers, body = plain(status, {Connection = "close"})
        conn:send(http.response(code, headers, body, false, SERVER))
        linger(conn)
      end
      return
    end
    served.requests = served.requests + 1
    handled = handled + 1
    local code, headers, body = answer(request, conn)
    count(code)
    local keep = request.keep_alive and (config.max_requests <= 0 or handled < config.max_requests)
    if not keep then
      headers.Connection = "close"
    elseif request.minor == 0 then
      headers.Connection = "keep-alive"
    end
    -- The header section, then the body as it is: a large file is not copied into one
    -- string per response (ten 7.6 MB downloads at once passed the Lua state's 64 MiB so).
    if not conn:send(http.response(code, headers, body, true, SERVER)) then return end
    if request.method ~= "HEAD" and #body > 0 and not conn:send(body) then return end
    if not keep then return linger(conn) end
  end
end

-- ARP and neighbour solicitations for the addresses; frames to another unicast MAC ignored.
neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6}:start()
tapir.tcp.listen({port = config.port, ip = config.ip, mac = config.mac}, serve)
tapir.tcp.listen({port = config.port, ipv6 = config.ipv6, mac = config.mac}, serve)
