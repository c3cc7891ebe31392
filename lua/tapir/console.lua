-- tapir.console: the prompt of `tapir console`, loaded into the Lua state it evaluates in.
--
-- The host calls eval(source) with each line (or the lines gathered so far); what is
-- printed goes through the host's line editor, above the line being typed. The helpers
-- (sniff, show, hexdump, send, handlers, stats, reload, peer, next) are set as globals
-- by install(). Everything here is plain Lua but for `native`, the host's one entry
-- point (see CLua's CLuaConsole.h).
local M = {}

local native        -- __tapir_console_native, set by install
local slice         -- __tapir_console_slice(thread, n): thread yields every n instructions
local layerFields   -- { order = {"eth", ...}, eth = {"src", "dst", "type"}, ... }

M.sliceInstructions = 50000  -- a chunk gives the loop its turn this often
M.maxDepth = 4      -- tables nested deeper are shown as {...}
M.lineWidth = 72    -- a table that fits on one line of this width is shown on one

local function write(text)
  native("write", text)
end

-- Values, readably -----------------------------------------------------------------

local function isIdentifier(key)
  return type(key) == "string" and key:match("^[%a_][%w_]*$") ~= nil
end

local typeOrder = { number = 1, string = 2, boolean = 3 }

local function keyLess(a, b)
  local ta, tb = typeOrder[type(a)] or 4, typeOrder[type(b)] or 4
  if ta ~= tb then return ta < tb end
  if ta <= 2 then return a < b end
  return tostring(a) < tostring(b)
end

local function quote(text)
  return (string.format("%q", text):gsub("\\\n", "\\n"))
end

local format

local function formatTable(value, depth, indent, seen)
  if seen[value] then return "<cycle: " .. tostring(value) .. ">" end
  if depth >= M.maxDepth then return "{...}" end
  local mt = getmetatable(value)
  if type(mt) == "table" and mt.__tostring then return tostring(value) end
  seen[value] = true
  local length = #value
  local keys = {}
  for key in pairs(value) do
    if not (math.type(key) == "integer" and key >= 1 and key <= length) then
      keys[#keys + 1] = key
    end
  end
  table.sort(keys, keyLess)
  local items = {}
  for index = 1, length do
    items[#items + 1] = format(value[index], depth + 1, indent .. "  ", seen)
  end
  for _, key in ipairs(keys) do
    local shownKey = isIdentifier(key) and key or "[" .. format(key, depth + 1, indent, seen) .. "]"
    items[#items + 1] = shownKey .. " = " .. format(value[key], depth + 1, indent .. "  ", seen)
  end
  seen[value] = nil
  if #items == 0 then return "{}" end
  local oneLine = "{ " .. table.concat(items, ", ") .. " }"
  if #oneLine + #indent <= M.lineWidth and not oneLine:find("\n", 1, true) then
    return oneLine
  end
  return "{\n" .. indent .. "  " .. table.concat(items, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
end

-- One value as Lua source would write it (strings quoted); tables nested, keys sorted,
-- at most M.maxDepth levels.
function format(value, depth, indent, seen)
  depth, indent, seen = depth or 0, indent or "", seen or {}
  local kind = type(value)
  if kind == "string" then return quote(value) end
  if kind == "table" then return formatTable(value, depth, indent, seen) end
  if math.type(value) == "float" and value == math.floor(value) and value == value
     and value ~= math.huge and value ~= -math.huge then
    return string.format("%.1f", value)
  end
  return tostring(value)
end
M.format = format

-- What the prompt prints for a result: strings as they are (like lua -i), the rest formatted.
function M.show(value)
  if type(value) == "string" then return value end
  return format(value)
end

-- Evaluating lines ------------------------------------------------------------------

-- A chunk the compiler stopped in at its end: more lines may complete it.
function M.isIncomplete(message)
  return type(message) == "string" and message:sub(-5) == "<eof>"
end

-- The function for a line: `=expr` and bare expressions return their values (tried as
-- `return <source>` first, as lua 5.4's REPL does). Returns fn, or nil and
-- "incomplete", or nil and the compiler's message.
function M.compile(source)
  if source:sub(1, 1) == "=" then source = "return " .. source:sub(2) end
  local fn = load("return " .. source, "=stdin", "t")
  if fn then return fn end
  local message
  fn, message = load(source, "=stdin", "t")
  if fn then return fn end
  if M.isIncomplete(message) then return nil, "incomplete" end
  return nil, message
end

local function traceback(message)
  if type(message) ~= "string" then
    local mt = getmetatable(message)
    if mt and mt.__tostring then return tostring(message) end
    return "(error object is a " .. type(message) .. " value)"
  end
  local text = debug and debug.traceback and debug.traceback(message, 2) or message
  -- The frames of the console itself say nothing to the user.
  return (text:gsub("\n%s*%[C%]: in function 'xpcall'.*$", ""))
end

-- The results of a chunk: printed as lua -i does, or its error.
local function report(results)
  if not results[1] then
    write(tostring(results[2]))
  elseif results.n == 2 and results[2] ~= nil and results[2] == M.printed then
    -- next() printed this packet already
  elseif results.n > 1 then
    local shown = {}
    for index = 2, results.n do shown[#shown + 1] = M.show(results[index]) end
    write(table.concat(shown, "\t"))
  end
end

-- What a chunk yields when a helper waits (sr1, ping, ...): the chunk's coroutine is then
-- carried on by a host task, which waits while the loop turns, and the host holds the
-- lines typed meanwhile until the chunk is done.
local WAIT = {}

-- Resumes the chunk's coroutine; if it waits, starts the task that carries it on.
local step

-- The chunk used its slice of instructions: it goes on after the loop's next turn.
local function continueLater(thread)
  native("busy")
  tapir.spawn(function()
    if thread ~= M.chunk then return end
    step(thread, coroutine.resume(thread))
    if M.chunk == nil then native("done") end
  end)
end

function step(thread, ok, first, waiter, ...)
  if thread ~= M.chunk then return end  -- abandoned (Ctrl-C)
  if not ok then
    M.chunk = nil
    write(tostring(first))
    return
  end
  if coroutine.status(thread) == "dead" then
    M.chunk = nil
    report(first)
    return
  end
  if first ~= WAIT then
    return continueLater(thread)
  end
  native("busy")
  tapir.spawn(function(...)
    local answer = table.pack(pcall(waiter, ...))
    if thread ~= M.chunk then return end
    if answer[1] then
      step(thread, coroutine.resume(thread, table.unpack(answer, 2, answer.n)))
    else
      step(thread, coroutine.resume(thread, WAIT, answer[2]))
    end
    if M.chunk == nil then native("done") end
  end, ...)
end

-- Inside a chunk typed at the prompt: runs waiter(...) in a host task (where tapir.request
-- and tapir.sleep may wait) and returns what it returns; its error is raised here.
function M.await(waiter, ...)
  if M.chunk == nil or coroutine.running() ~= M.chunk then
    error("this helper waits, which it can do only in a line typed at the prompt", 3)
  end
  local results = table.pack(coroutine.yield(WAIT, waiter, ...))
  if results[1] == WAIT then error(results[2], 3) end
  return table.unpack(results, 1, results.n)
end

-- Ctrl-C while a chunk waits: it is dropped (its task's answer is not used).
function M.abandon()
  M.chunk = nil
end

-- Runs one chunk typed at the prompt and prints its results or error. Returns true when
-- the chunk is incomplete (the host then asks for more lines and calls again with all).
-- The chunk runs in a coroutine, at once; only a helper that waits makes it yield.
function M.eval(source)
  local fn, message = M.compile(source)
  if not fn then
    if message == "incomplete" then return true end
    write(message)
    return false
  end
  M.printed = nil
  local thread = coroutine.create(function() return table.pack(xpcall(fn, traceback)) end)
  M.chunk = thread
  if slice then slice(thread, M.sliceInstructions) end
  step(thread, coroutine.resume(thread))
  return false
end

-- Helpers -----------------------------------------------------------------------------

local function isPacket(value)
  if type(value) ~= "userdata" then return false end
  local ok, layers = pcall(function() return value.layers end)
  return ok and type(layers) == "string"
end

local function packetBytes(value)
  if type(value) == "string" then return value end
  if isPacket(value) then return value:bytes() end
  error("expected a byte string or a packet, got " .. type(value), 3)
end

-- hexdump(bytes or pkt): offset, 16 bytes in hex, and the printable ones as text.
function M.hexdump(value)
  local bytes = packetBytes(value)
  local lines = {}
  for offset = 0, #bytes - 1, 16 do
    local chunk = bytes:sub(offset + 1, offset + 16)
    local hex = chunk:gsub(".", function(c) return string.format("%02x ", c:byte()) end)
    if #chunk > 8 then hex = hex:sub(1, 24) .. " " .. hex:sub(25) end
    local text = chunk:gsub("[^\32-\126]", ".")
    lines[#lines + 1] = string.format("%04x  %-49s |%s|", offset, hex, text)
  end
  return table.concat(lines, "\n")
end

local function fieldText(value)
  if type(value) == "string" and value:find("[^\32-\126]") then
    if #value == 0 then return "''" end
    local shown = value:sub(1, 32):gsub(".", function(c) return string.format("%02x", c:byte()) end)
    return shown .. (#value > 32 and "... (" .. #value .. " bytes)" or "")
  end
  return format(value)
end

-- What the protocol modules read above the native layers, by where it rides: a UDP or
-- TCP port (either end), or an EtherType. Over TCP a DNS message has its two-byte length.
local applications = {
  {name = "dns", module = "tapir.proto.dns", udp = {[53] = true, [5353] = true}, tcp = {[53] = true},
   tcpLengthPrefixed = true},
  {name = "dhcp", module = "tapir.proto.dhcp", udp = {[67] = true, [68] = true}},
  {name = "dhcpv6", module = "tapir.proto.dhcpv6", udp = {[546] = true, [547] = true}},
  {name = "ntp", module = "tapir.proto.ntp", udp = {[123] = true}},
  {name = "vxlan", module = "tapir.proto.vxlan", udp = {[4789] = true}},
  {name = "lldp", module = "tapir.proto.lldp", ethertype = 0x88cc},
}

local function indented(text)
  return "  " .. text:gsub("\n", "\n  ")
end

-- The layers above the native ones that a protocol module decodes, as show() prints them:
-- the TCP options (tapir.proto.tcp_options) and the application's message, or why it could
-- not be decoded. An empty list when there is nothing to add.
function M.applicationLayers(pkt)
  local lines = {}
  local function add(title, module, bytes)
    local ok, codec = pcall(require, module)
    if not ok then return end
    local decoded, why = codec.decode(bytes)
    lines[#lines + 1] = "###[ " .. title .. " ]###  (" .. module .. ")"
    lines[#lines + 1] = decoded and indented(M.show(decoded)) or ("  not decoded: " .. tostring(why))
  end
  local tcp, udp = pkt.tcp, pkt.udp
  if tcp and tcp.options and #tcp.options > 0 then add("tcp options", "tapir.proto.tcp_options", tcp.options) end
  local payload = pkt.payload
  if not payload or #payload == 0 then return lines end
  for _, app in ipairs(applications) do
    local bytes
    if udp and app.udp and (app.udp[udp.sport] or app.udp[udp.dport]) then
      bytes = payload
    elseif tcp and app.tcp and (app.tcp[tcp.sport] or app.tcp[tcp.dport]) then
      bytes = app.tcpLengthPrefixed and #payload >= 2 and payload:sub(3, 2 + string.unpack(">I2", payload)) or payload
    elseif app.ethertype and pkt.eth and pkt.eth.type == app.ethertype and not pkt.ip and not pkt.ipv6 then
      bytes = payload
    end
    if bytes then
      add(app.name, app.module, bytes)
      break
    end
  end
  return lines
end

-- show(pkt): every layer present and every field of it, like Scapy's show(), then what
-- the protocol modules read above them (M.applicationLayers).
function M.showPacket(pkt)
  if not isPacket(pkt) then error("show expects a packet, got " .. type(pkt), 2) end
  local lines = { tostring(pkt) }
  local present = {}
  for layer in pkt.layers:gmatch("[^:]+") do present[layer] = true end
  for _, layer in ipairs(layerFields.order) do
    if present[layer] then
      lines[#lines + 1] = "###[ " .. layer .. " ]###"
      local proxy = pkt[layer]
      for _, field in ipairs(layerFields[layer]) do
        local ok, value = pcall(function() return proxy[field] end)
        lines[#lines + 1] = string.format("  %-10s = %s", field, ok and fieldText(value) or "?")
      end
    end
  end
  for _, line in ipairs(M.applicationLayers(pkt)) do lines[#lines + 1] = line end
  local payload = pkt.payload
  if payload and #payload > 0 then
    lines[#lines + 1] = "###[ payload ]###  " .. #payload .. " bytes"
    lines[#lines + 1] = M.hexdump(payload)
  end
  if pkt.malformed then lines[#lines + 1] = "malformed: " .. tostring(pkt.malformed) end
  return table.concat(lines, "\n")
end

-- help ---------------------------------------------------------------------------------

-- The libraries Lua itself documents, for help(string.format).
local luaLibraries = { "string", "table", "math", "io", "os", "coroutine", "utf8", "debug" }

-- The documented name of a value: a member of tapir (tapir.build.ip), a global the prompt
-- offers (sniff), or one of Lua's own functions (string.format); nil when it has none.
function M.nameOf(value)
  if isPacket(value) then return "pkt" end
  local function search(tableValue, prefix, depth)
    for key, member in pairs(tableValue) do
      if rawequal(member, value) then return prefix .. key end
    end
    if depth > 0 then
      for key, member in pairs(tableValue) do
        if type(member) == "table" and type(key) == "string" then
          local found = search(member, prefix .. key .. ".", depth - 1)
          if found then return found end
        end
      end
    end
  end
  if rawequal(value, tapir) then return "tapir" end
  local found = type(tapir) == "table" and search(tapir, "tapir.", 1)
  if found then return found end
  for key, member in pairs(_G) do
    if rawequal(member, value) and type(key) == "string" then return key end
  end
  for _, library in ipairs(luaLibraries) do
    local tableValue = _G[library]
    if type(tableValue) == "table" then
      for key, member in pairs(tableValue) do
        if rawequal(member, value) then return library .. "." .. key, true end
      end
    end
  end
end

local function firstSentence(text)
  local sentence = text:match("^(.-%.)%s") or text
  if #sentence > 90 then sentence = sentence:sub(1, 87) .. "..." end
  return sentence
end

-- help(): what the prompt offers; help(value or "name"): its entry in docs/lua-api.md.
function M.help(subject)
  if subject == nil then
    local lines = { "At the prompt (help(name) for the whole entry):" }
    for line in (native("help") or ""):gmatch("[^\n]+") do
      local name, text = line:match("^([^\t]+)\t(.*)$")
      lines[#lines + 1] = string.format("  %-10s %s", name, firstSentence(text))
    end
    lines[#lines + 1] = "The API: help(tapir), help(tapir.on), help(\"tapir.build\"), help(\"pkt.tcp\"), help(pkt)."
    return table.concat(lines, "\n")
  end
  local name, luaOwn = subject, false
  if type(subject) ~= "string" then
    name, luaOwn = M.nameOf(subject)
    if not name then
      return "help: this " .. type(subject) .. " has no documented name; try help() or help(\"tapir.on\")"
    end
  end
  if luaOwn then
    return name .. " is Lua's own: https://www.lua.org/manual/5.4/manual.html#pdf-" .. name
  end
  if name == "tapir" then
    local names = {}
    for key in pairs(tapir) do names[#names + 1] = "tapir." .. key end
    table.sort(names)
    return "tapir: " .. table.concat(names, ", ") .. "\nhelp(tapir.NAME) for one of them."
  end
  local text = native("help", name)
  if not text then return "help: no entry for " .. name .. " in docs/lua-api.md" end
  return text
end

-- Tab ------------------------------------------------------------------------------------

local keywords = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto",
                   "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }
local packetMethods = { "bytes", "copy", "reply" }

-- The identifier keys of a table and of the tables its metatables' __index chain holds.
local function addKeys(value, names)
  for _ = 1, 4 do
    if type(value) ~= "table" then return end
    for key in pairs(value) do
      if isIdentifier(key) then names[key] = true end
    end
    local mt = getmetatable(value)
    value = type(mt) == "table" and rawget(mt, "__index") or nil
  end
end

local function safeIndex(value, key)
  local ok, result = pcall(function() return value[key] end)
  if ok then return result end
end

-- The names that may follow `base` and the separator: a table's keys, a packet's layers
-- and fields (its methods after ':'), a layer's fields, a string's methods.
local function memberNames(base, parentIsPacket, lastKey, separator)
  local names = {}
  if isPacket(base) then
    if separator == ":" then
      for _, name in ipairs(packetMethods) do names[name] = true end
    else
      for layer in base.layers:gmatch("[^:]+") do names[layer] = true end
      for _, field in ipairs(layerFields.frame) do names[field] = true end
      names.layers = true
    end
  elseif parentIsPacket and layerFields[lastKey] then
    for _, field in ipairs(layerFields[lastKey]) do names[field] = true end
  elseif type(base) == "string" and separator == ":" then
    addKeys(string, names)
  elseif type(base) == "table" then
    addKeys(base, names)
  end
  return names
end

-- The candidates for the word before the cursor, handed to the host as
-- "stem length\ncandidate\n...": globals and keywords, fields after `a.b.`, a packet's
-- layers and fields, a builder's fields inside `tapir.build.NAME{`.
function M.complete(line)
  local stem, names = "", {}
  local builder, inside = line:match("tapir%.build%.([%a_][%w_]*)%s*%(?%s*{([^{}]*)$")
  if builder and layerFields.builders[builder] and (inside:match("^%s*[%a_]*$") or inside:match("[,;]%s*[%a_]*$")) then
    stem = inside:match("([%a_]*)$")
    for _, field in ipairs(layerFields.builders[builder]) do names[field] = true end
  else
    local expression = line:match("[%w_%.:]*$")
    local base, separator
    base, separator, stem = expression:match("^(.*)([%.:])([%a_]?[%w_]*)$")
    if not base then
      stem = expression:match("[%a_][%w_]*$") or ""
      if stem ~= expression then stem = "" end
      addKeys(_G, names)
      for _, word in ipairs(keywords) do names[word] = true end
    elseif base:match("^[%a_][%w_]*[%w_%.]*$") and not base:find("..", 1, true) then
      local value, parent, lastKey = _G, nil, nil
      for key in base:gmatch("[^.]+") do
        parent, lastKey = value, key
        value = safeIndex(value, key)
        if value == nil then break end
      end
      if value ~= nil then names = memberNames(value, isPacket(parent), lastKey, separator) end
    end
  end
  local found = {}
  for name in pairs(names) do
    if name:sub(1, #stem) == stem then found[#found + 1] = name end
  end
  table.sort(found)
  native("completions", #stem .. "\n" .. table.concat(found, "\n"))
end

local function findDevice(name)
  for _, device in ipairs(tapir.devices()) do
    if name == nil or device.name == name then return device end
  end
  if name then error("no device named " .. tostring(name), 3) end
  error("no device to send on", 3)
end

function M.install(nativeFunction, fields, sliceFunction)
  native = nativeFunction
  slice = sliceFunction
  layerFields = fields

  print = function(...)
    local parts = table.pack(...)
    for index = 1, parts.n do parts[index] = tostring(parts[index]) end
    write(table.concat(parts, "\t", 1, parts.n))
  end

  -- sniff(3), sniff{count=, seconds=, filter=}: one tcpdump-style line per packet in or
  -- out of any device, printed as they pass; the loop keeps turning.
  sniff = function(options)
    if math.type(options) == "integer" then options = { count = options } end
    options = options or {}
    if type(options) ~= "table" then error("sniff expects a count or a table {count=, seconds=, filter=}", 2) end
    local count = options.count
    if count ~= nil and math.type(count) ~= "integer" then error("sniff: count must be an integer", 2) end
    local seconds = options.seconds
    if seconds ~= nil and type(seconds) ~= "number" then error("sniff: seconds must be a number", 2) end
    if count == nil and seconds == nil then count = 10 end
    native("sniff", options.filter, count or 0, seconds or 0)
  end

  require("tapir.console_ask").install(M)

  help = function(...)
    if select("#", ...) > 0 and (...) == nil then
      write("help: got nil (a name that is not there?); help() lists what there is")
      return
    end
    write(M.help(...))
  end
  show = function(pkt) write(M.showPacket(pkt)) end

  -- dissect(pkt or bytes): Wireshark's full dissection, through tshark -V.
  dissect = function(value)
    local bytes = packetBytes(value)
    local rawIP
    if isPacket(value) then
      rawIP = value.layers:sub(1, 4) ~= "eth:" and value.layers ~= "eth"
    else
      local dev = tapir.devices()[1]
      rawIP = dev ~= nil and dev.mode == "tun"
    end
    local hex = bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end)
    write(native("dissect", hex, rawIP and 1 or 0))
  end
  hexdump = function(value) write(M.hexdump(value)) end

  -- send(bytes or pkt, [device name]): one frame on the first device, or the one named.
  send = function(value, name)
    local device = findDevice(name)
    return device:write(isPacket(value) and value or packetBytes(value))
  end

  handlers = function() return tapir.stats().handlers end
  stats = function() return tapir.stats() end
  reload = function() native("reload") end

  -- peer("ping -c1 198.18.0.2"): a command in the sandbox, its output printed as it comes
  -- (Ctrl-C, or kill(n) with n from jobs(), stops it). peer(cmd, {wait = true}) waits for
  -- it and returns its output and exit status.
  peer = function(command, options)
    if type(command) ~= "string" then error("peer expects a command line (a string)", 2) end
    if options ~= nil and type(options) ~= "table" then error("peer's options are a table: {wait = true}", 2) end
    if not (options and options.wait) then
      native("peer", command, 0)
      return
    end
    local number = math.tointeger(tonumber(native("peer", command, 1)))
    return M.await(function()
      while true do
        local result = native("peerresult", nil, number)
        if result then
          local status, output = result:match("^(-?%d+)\n(.*)$")
          return output, math.tointeger(tonumber(status))
        end
        tapir.sleep(20)
      end
    end)
  end
  jobs = function()
    local list = native("jobs")
    write(list ~= "" and list or "(no peer command running)")
  end
  kill = function(number)
    if math.type(number) ~= "integer" then error("kill expects a job number (jobs() lists them)", 2) end
    native("kill", nil, number)
  end

  -- next(): the next packet of the capture (tapir console --replay), dispatched to the
  -- handlers; returns a copy of it, or nil at the end. next(t, k) is still Lua's.
  local luaNext = next
  next = function(...)
    if select("#", ...) > 0 then return luaNext(...) end
    if native("next") == nil then
      write("(end of the capture)")
      return nil
    end
    local pkt = M.last
    M.last = nil
    write(tostring(pkt))
    M.printed = pkt
    return pkt
  end
end

-- The host binds each packet next() reads and calls this to keep a copy of it.
function M.keep(pkt)
  M.last = pkt:copy()
end

return M
