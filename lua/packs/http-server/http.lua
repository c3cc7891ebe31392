-- HTTP/1.1 messages (RFC 9110, RFC 9112) over one of the host's TCP connections: reading
-- a request (request line, header section, a body by Content-Length or chunked) with
-- limits and a deadline, and writing a response. No tapir call but the connection's
-- methods and tapir.now, so it runs in any task.
local M = {}

M.REASONS = {
  [100] = "Continue", [200] = "OK", [204] = "No Content", [301] = "Moved Permanently",
  [304] = "Not Modified", [400] = "Bad Request", [404] = "Not Found", [405] = "Method Not Allowed",
  [408] = "Request Timeout", [413] = "Content Too Large", [414] = "URI Too Long",
  [431] = "Request Header Fields Too Large", [500] = "Internal Server Error",
  [501] = "Not Implemented", [505] = "HTTP Version Not Supported",
}

M.TYPES = {
  html = "text/html; charset=utf-8", htm = "text/html; charset=utf-8", txt = "text/plain; charset=utf-8",
  css = "text/css; charset=utf-8", js = "text/javascript; charset=utf-8", mjs = "text/javascript; charset=utf-8",
  json = "application/json", xml = "application/xml", svg = "image/svg+xml", md = "text/markdown; charset=utf-8",
  csv = "text/csv; charset=utf-8", webmanifest = "application/manifest+json",
}

-- The Content-Type of a path, from its extension.
function M.content_type(path)
  local extension = path:match("%.([%w]+)$")
  return extension and M.TYPES[extension:lower()] or "application/octet-stream"
end

-- RFC 9110 5.6.2: token characters.
local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

-- Percent-decoding of a path; nil for a bad escape or a NUL.
local function unescape(path)
  if path:find("%%[^%x]") or path:find("%%%x[^%x]") or path:find("%%%x?$") then return nil end
  local decoded = path:gsub("%%(%x%x)", function(hex) return string.char(tonumber(hex, 16)) end)
  if decoded:find("%z") then return nil end
  return decoded
end

-- A failure while reading a request: the status to answer (nil: just close) and why.
local function failure(status, why) return nil, status, why end

-- What a connection has sent and was not yet read: lines and byte counts are cut from it
-- with a deadline for the whole of what is asked. (conn:receive's timeout is how long it
-- waits for more data, so a client sending a byte now and then would hold a
-- receive("*l") open for ever; conn:receiveany with what is left of the deadline holds it
-- to the deadline, and a line is refused once it is too long, not after it is whole.)
local Reader = {}
Reader.__index = Reader

function M.reader(conn)
  return setmetatable({conn = conn, buffer = "", at = 1}, Reader)
end

-- More data, waiting until `deadline` (tapir.now milliseconds); nil, err ("timeout",
-- "closed", "reset") when none came.
function Reader:fill(deadline)
  local left = deadline - tapir.now()
  if left <= 0 then return nil, "timeout" end
  self.conn:settimeout(math.max(1, math.ceil(left)))
  local data, err = self.conn:receiveany(65536)
  if not data then return nil, err end
  self.buffer = self.buffer:sub(self.at) .. data
  self.at = 1
  return true
end

-- A line without its LF (and a CR before it), at most `max` bytes; nil, "too long" past it.
function Reader:line(deadline, max)
  while true do
    local lf = self.buffer:find("\n", self.at, true)
    if lf then
      if lf - self.at > max then return nil, "too long" end
      local text = self.buffer:sub(self.at, lf - 1)
      self.at = lf + 1
      if text:sub(-1) == "\r" then text = text:sub(1, -2) end
      return text
    end
    if #self.buffer - self.at + 1 > max then return nil, "too long" end
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
  end
end

-- Exactly `count` bytes.
function Reader:bytes(count, deadline)
  local parts, have = {}, 0
  while true do
    local available = #self.buffer - self.at + 1
    local take = math.min(available, count - have)
    if take > 0 then
      parts[#parts + 1] = self.buffer:sub(self.at, self.at + take - 1)
      self.at = self.at + take
      have = have + take
    end
    if have == count then return table.concat(parts) end
    if self.at > #self.buffer then self.buffer, self.at = "", 1 end
    local ok, err = self:fill(deadline)
    if not ok then return nil, err end
  end
end

local function line(reader, deadline, max) return reader:line(deadline, max or 8192) end
local function exact(reader, count, deadline) return reader:bytes(count, deadline) end

-- Reads the body of `request` (whose headers are read): Content-Length or chunked, at most
-- limits.body bytes, by `deadline`. Returns true, or nil, status, why.
local function read_body(reader, request, limits, deadline, continue)
  local headers = request.headers
  local te, length = headers["transfer-encoding"], headers["content-length"]
  if te then
    if length then return failure(400, "both Transfer-Encoding and Content-Length") end
    if te:lower() ~= "chunked" then return failure(501, "transfer coding '" .. te .. "'") end
    continue()
    local parts, total = {}, 0
    while true do
      local size_line, err = line(reader, deadline, 256)
      if not size_line then return failure(err == "timeout" and 408 or err == "too long" and 400 or nil, "chunk size: " .. err) end
      local hex = size_line:match("^(%x+)%s*[;]?") or size_line:match("^(%x+)$")
      if not hex or #hex > 8 then return failure(400, "a bad chunk size line") end
      local size = tonumber(hex, 16)
      if size == 0 then break end
      total = total + size
      if total > limits.body then return failure(413, "a chunked body over " .. limits.body .. " bytes") end
      local data, why = exact(reader, size, deadline)
      if not data then return failure(why == "timeout" and 408 or nil, "chunk: " .. why) end
      parts[#parts + 1] = data
      local ending = line(reader, deadline, 2)
      if ending ~= "" then return failure(400, "a chunk not ended by CRLF") end
    end
    while true do  -- trailer fields, dropped
      local trailer, err = line(reader, deadline, limits.header)
      if not trailer then return failure(err == "timeout" and 408 or err == "too long" and 431 or nil, "trailer: " .. err) end
      if trailer == "" then break end
    end
    request.body = table.concat(parts)
    return true
  end
  if length then
    if not length:match("^%d+$") or #length > 15 then return failure(400, "Content-Length '" .. length .. "'") end
    local count = tonumber(length)
    if count > limits.body then return failure(413, "a body of " .. count .. " bytes, over " .. limits.body) end
    if count > 0 then
      continue()
      local data, err = exact(reader, count, deadline)
      if not data then return failure(err == "timeout" and 408 or nil, "body: " .. err) end
      request.body = data
    end
  end
  return true
end

-- Reads one request from `reader` (http.reader(conn), one for the connection's life).
-- limits: {line, header, body (bytes), idle, header_time (ms)}. The request line is awaited up to `idle` ms (the connection is idle until it
-- comes); the header section and the body then have `header_time` ms. Returns the request
-- {method, target, path, query, version, minor, headers (lower-case names; repeated
-- ones joined by ", "), body, keep_alive}, or nil, status, why: status is what to answer
-- before closing (400, 408, 413, 414, 431, 501, 505), nil to close without a word (the
-- client left, or was idle).
function M.read_request(reader, limits)
  local request_line, err
  local deadline = tapir.now() + limits.idle
  for _ = 1, 4 do  -- RFC 9112 2.2: empty lines before a request line are ignored
    request_line, err = line(reader, deadline, limits.line)
    if request_line ~= "" then break end
  end
  if err == "too long" then return failure(414, "a request line over " .. limits.line .. " bytes") end
  if not request_line then return failure(nil, err) end
  if request_line == "" then return failure(400, "only empty lines") end
  deadline = tapir.now() + limits.header_time
  local method, target, major, minor = request_line:match("^(%S+) (%S+) HTTP/(%d)%.(%d)$")
  if not method or not method:match(TOKEN) then return failure(400, "request line '" .. request_line:sub(1, 80) .. "'") end
  if major ~= "1" then return failure(505, "HTTP/" .. major .. "." .. minor) end
  local request = {method = method, target = target, version = "HTTP/1." .. minor, minor = tonumber(minor),
                   headers = {}, body = ""}

  local size = #request_line + 2
  while true do
    local field
    field, err = line(reader, deadline, math.max(0, limits.header - size))
    if err == "too long" then return failure(431, "a header section over " .. limits.header .. " bytes") end
    if not field then return failure(err == "timeout" and 408 or nil, "headers: " .. err) end
    size = size + #field + 2
    if size > limits.header then return failure(431, "a header section over " .. limits.header .. " bytes") end
    if field == "" then break end
    local name, value = field:match("^([^:%s]+):[ \t]*(.-)[ \t]*$")
    if not name or not name:match(TOKEN) then return failure(400, "header line '" .. field:sub(1, 80) .. "'") end
    name = name:lower()
    local old = request.headers[name]
    if old and (name == "host" or name == "content-length") then
      if name == "host" or old ~= value then return failure(400, "two " .. name .. " fields") end
    elseif old then
      value = old .. ", " .. value
    end
    request.headers[name] = value
  end
  if request.minor >= 1 and not request.headers.host then return failure(400, "HTTP/1.1 without Host") end

  -- origin-form (/path?query) or absolute-form (http://host/path); * for OPTIONS
  local path = target
  if target:match("^[Hh][Tt][Tt][Pp][Ss]?://") then path = target:match("^%a+://[^/]*(.*)$") end
  if path == "" then path = "/" end
  if path ~= "*" and path:sub(1, 1) ~= "/" then return failure(400, "target '" .. target:sub(1, 80) .. "'") end
  local raw_path, query = path:match("^([^?#]*)%??([^#]*)")
  request.path = unescape(raw_path)
  request.query = query
  if not request.path then return failure(400, "a bad escape in '" .. raw_path:sub(1, 80) .. "'") end

  local connection = (request.headers.connection or ""):lower()
  if request.minor >= 1 then
    request.keep_alive = not connection:find("close", 1, true)
  else
    request.keep_alive = connection:find("keep-alive", 1, true) ~= nil
  end

  local function continue()  -- RFC 9110 10.1.1: a client waiting to send its body
    if request.minor >= 1 and (request.headers.expect or ""):lower() == "100-continue" then
      reader.conn:send("HTTP/1.1 100 Continue\r\n\r\n")
    end
  end
  local ok, status, why = read_body(reader, request, limits, deadline, continue)
  if not ok then return nil, status, why end
  return request
end

-- An IMF-fixdate (RFC 9110 5.6.7) of now.
function M.date()
  return os.date("!%a, %d %b %Y %H:%M:%S GMT")
end

-- The bytes of a response: status line, headers (a table; Content-Length, Date and Server
-- added unless given), then the body unless `head_only`.
function M.response(status, headers, body, head_only, server)
  local lines = {string.format("HTTP/1.1 %d %s", status, M.REASONS[status] or "Unknown")}
  local has = {}
  for name in pairs(headers) do has[name:lower()] = true end
  local names = {}
  for name in pairs(headers) do names[#names + 1] = name end
  table.sort(names)
  if not has["date"] then lines[#lines + 1] = "Date: " .. M.date() end
  if server and not has["server"] then lines[#lines + 1] = "Server: " .. server end
  for _, name in ipairs(names) do lines[#lines + 1] = name .. ": " .. tostring(headers[name]) end
  if not has["content-length"] and status >= 200 and status ~= 204 and status ~= 304 then
    lines[#lines + 1] = "Content-Length: " .. #body
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = ""
  local head = table.concat(lines, "\r\n")
  if head_only then return head end
  return head .. body
end

return M
