-- TCP options (RFC 9293 3.2, RFC 7323, RFC 2018), the bytes of pkt.tcp.options or
-- tapir.build.tcp's options: decode(bytes) -> options | nil, why and encode(options) ->
-- bytes | nil, why. Pure: no tapir calls (require "tapir.proto.tcp_options").
--
-- decode gives the options in order, and the known ones by name:
--   {list = {{kind = "mss", mss = 1460}, {kind = "sack_permitted"}, {kind = "timestamps",
--            tsval =, tsecr =}, {kind = "nop"}, {kind = "window_scale", shift = 10},
--            {kind = "sack", blocks = {{left =, right =}, ...}}, {kind = "eol", padding = bytes},
--            {kind = 253, data = bytes}},            -- any other kind, or a known one of odd length
--    mss =, window_scale =, sack_permitted = true, timestamps = {tsval =, tsecr =}, sack = blocks}
-- encode writes `list` as it is when the table has it; else the named options, each
-- aligned to 4 bytes with NOPs as Linux lays them out (MSS, SACK-permitted with timestamps,
-- window scale, SACK blocks).
local tcp_options = {}

tcp_options.KIND = {EOL = 0, NOP = 1, MSS = 2, WINDOW_SCALE = 3, SACK_PERMITTED = 4, SACK = 5, TIMESTAMPS = 8}

local NAMES = {[0] = "eol", "nop", "mss", "window_scale", "sack_permitted", "sack", [8] = "timestamps"}
local NUMBERS = {}
for number, name in pairs(NAMES) do NUMBERS[name] = number end

-- The length each kind must have (SACK: 2 + 8 per block, 1 to 4 blocks).
local LENGTH = {mss = 4, window_scale = 3, sack_permitted = 2, timestamps = 10}

local function read(name, data)
  if name == "mss" then return {mss = string.unpack(">I2", data)} end
  if name == "window_scale" then return {shift = data:byte()} end
  if name == "sack_permitted" then return {} end
  if name == "timestamps" then
    local tsval, tsecr = string.unpack(">I4I4", data)
    return {tsval = tsval, tsecr = tsecr}
  end
  local blocks = {}
  for at = 1, #data, 8 do
    local left, right = string.unpack(">I4I4", data, at)
    blocks[#blocks + 1] = {left = left, right = right}
  end
  return {blocks = blocks}
end

local function sack_length_fits(length)
  return length >= 10 and length <= 34 and (length - 2) % 8 == 0
end

function tcp_options.decode(bytes)
  if type(bytes) ~= "string" then return nil, "bytes expected, got " .. type(bytes) end
  if #bytes > 40 then return nil, string.format("%d bytes of options, over 40", #bytes) end
  local options = {list = {}}
  local list = options.list
  local at = 1
  while at <= #bytes do
    local kind = bytes:byte(at)
    if kind == 0 then
      list[#list + 1] = {kind = "eol", padding = bytes:sub(at + 1)}
      break
    elseif kind == 1 then
      list[#list + 1] = {kind = "nop"}
      at = at + 1
    else
      local length = bytes:byte(at + 1)
      if not length then return nil, string.format("option %d at byte %d has no length", kind, at) end
      if length < 2 then return nil, string.format("option %d at byte %d: length %d, under 2", kind, at, length) end
      if at + length - 1 > #bytes then
        return nil, string.format("option %d at byte %d: its %d bytes run past the end", kind, at, length)
      end
      local data = bytes:sub(at + 2, at + length - 1)
      local name = NAMES[kind]
      local option
      if name and (LENGTH[name] == length or (name == "sack" and sack_length_fits(length))) then
        option = read(name, data)
        option.kind = name
      else
        option = {kind = kind, data = data}
      end
      list[#list + 1] = option
      at = at + length
    end
  end
  for _, option in ipairs(list) do
    local name = option.kind
    if name == "mss" and options.mss == nil then options.mss = option.mss
    elseif name == "window_scale" and options.window_scale == nil then options.window_scale = option.shift
    elseif name == "sack_permitted" then options.sack_permitted = true
    elseif name == "timestamps" and options.timestamps == nil then options.timestamps = option
    elseif name == "sack" and options.sack == nil then options.sack = option.blocks
    end
  end
  return options
end

local function field(option, name, high)
  local value = option[name]
  if math.type(value) ~= "integer" or value < 0 or value > high then
    return nil, string.format("%s option: field '%s': an integer 0..%d expected, got %s", tostring(option.kind),
                              name, high, tostring(value))
  end
  return value
end

local function write(option)
  if type(option) ~= "table" then return nil, "an option is a table, not " .. type(option) end
  local name = option.kind
  local kind = NUMBERS[name] or name
  if math.type(kind) ~= "integer" or kind < 0 or kind > 255 then
    return nil, "option kind " .. tostring(name) .. ": a kind name or a number 0..255 expected"
  end
  if NAMES[kind] ~= name then
    -- A kind by number: its data as is.
    if kind == 0 or kind == 1 then return string.char(kind) end
    if type(option.data or "") ~= "string" or #(option.data or "") > 38 then
      return nil, "option " .. kind .. ": field 'data': at most 38 bytes expected"
    end
    return string.char(kind, #(option.data or "") + 2) .. (option.data or "")
  end
  local value, why, other
  if name == "eol" then
    if type(option.padding or "") ~= "string" then return nil, "eol option: field 'padding': bytes expected" end
    return "\0" .. (option.padding or "")
  elseif name == "nop" then
    return "\1"
  elseif name == "mss" then
    value, why = field(option, "mss", 0xffff)
    return value and string.pack(">BBI2", 2, 4, value), why
  elseif name == "window_scale" then
    value, why = field(option, "shift", 255)
    return value and string.char(3, 3, value), why
  elseif name == "sack_permitted" then
    return "\4\2"
  elseif name == "timestamps" then
    value, why = field(option, "tsval", 0xffffffff)
    if not value then return nil, why end
    other, why = field(option, "tsecr", 0xffffffff)
    return other and string.pack(">BBI4I4", 8, 10, value, other), why
  end
  local blocks = option.blocks
  if type(blocks) ~= "table" or #blocks < 1 or #blocks > 4 then
    return nil, "sack option: field 'blocks': 1 to 4 blocks expected"
  end
  local parts = {string.char(5, 2 + 8 * #blocks)}
  for _, block in ipairs(blocks) do
    if type(block) ~= "table" then return nil, "sack option: a block is {left =, right =}" end
    value, why = field(block, "left", 0xffffffff)
    if not value then return nil, why end
    other, why = field(block, "right", 0xffffffff)
    if not other then return nil, why end
    parts[#parts + 1] = string.pack(">I4I4", value, other)
  end
  return table.concat(parts)
end

-- The named options, laid out as Linux does.
local function named_list(options)
  local list = {}
  local function add(...) for _, option in ipairs{...} do list[#list + 1] = option end end
  local nop = {kind = "nop"}
  if options.mss ~= nil then add{kind = "mss", mss = options.mss} end
  local timestamps = options.timestamps
  if timestamps ~= nil and type(timestamps) ~= "table" then
    return nil, "field 'timestamps': {tsval =, tsecr =} expected, got " .. type(timestamps)
  end
  if timestamps then
    timestamps = {kind = "timestamps", tsval = timestamps.tsval, tsecr = timestamps.tsecr or 0}
  end
  if options.sack_permitted and timestamps then
    add({kind = "sack_permitted"}, timestamps)
  elseif timestamps then
    add(nop, nop, timestamps)
  elseif options.sack_permitted then
    add(nop, nop, {kind = "sack_permitted"})
  end
  if options.window_scale ~= nil then add(nop, {kind = "window_scale", shift = options.window_scale}) end
  if options.sack ~= nil then add(nop, nop, {kind = "sack", blocks = options.sack}) end
  return list
end

function tcp_options.encode(options)
  if type(options) ~= "table" then return nil, "a table expected, got " .. type(options) end
  local list, why = options.list, nil
  if list == nil then
    list, why = named_list(options)
    if not list then return nil, why end
  elseif type(list) ~= "table" then
    return nil, "field 'list': a list of options expected, got " .. type(list)
  end
  local parts = {}
  for i, option in ipairs(list) do
    parts[i], why = write(option)
    if not parts[i] then return nil, why end
  end
  local bytes = table.concat(parts)
  if #bytes > 40 then return nil, string.format("%d bytes of options, over 40", #bytes) end
  return bytes
end

return tcp_options
