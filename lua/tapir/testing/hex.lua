-- For tests: bytes to and from hexadecimal text (require "tapir.testing.hex").
local M = {}

-- "c61200" for "\198\18\0".
function M.hex(bytes)
  return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

-- The bytes of hexadecimal text; blanks and line breaks in it are ignored.
function M.unhex(text)
  return (text:gsub("%s+", ""):gsub("%x%x", function(pair) return string.char(tonumber(pair, 16)) end))
end

return M
