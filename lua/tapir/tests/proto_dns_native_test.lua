-- tapir.proto.dns's C core (Sources/CLua/clua_dns.c) against its Lua code: the same tables,
-- bytes and reasons (tapir.testing.dns_paths compares them) for real messages, every
-- truncation and byte change of them, and message tables with fields changed; and the core
-- itself, not the Lua code it may leave a message to, reads and writes the real messages.
-- DNSNativeCodecTests does the same over the fuzz corpus (Fuzz/corpus/proto-dns).
local dns = require "tapir.proto.dns"
local paths = require "tapir.testing.dns_paths"
local core = require "tapir.proto.dns_native"
local unhex = require("tapir.testing.hex").unhex

local pure = paths.pure()

local function payloads(file)
  local list = {}
  for i, frame in ipairs(test.pcap(file)) do list[i] = test.decode(frame).payload end
  return list
end

local function agree(bytes, changes, label)
  local found = paths.differ(dns, pure, bytes, changes)
  test.equal(found, nil, label)
end

function test_inside_tapir_the_module_has_its_c_core()
  test.equal(dns.NATIVE, true)
  test.equal(pure.NATIVE, false)
end

function test_the_core_itself_reads_and_writes_every_real_message()
  for i, bytes in ipairs(payloads("fixtures/dns-dig-nsd.pcap")) do
    local msg = core.decode(bytes)
    test.expect(msg, "the core reads message " .. i)
    test.equal(paths.difference(msg, pure.decode(bytes), "message " .. i), nil)
    local encoded = core.encode(msg)
    test.expect(encoded, "the core writes message " .. i)
    test.equal(encoded, pure.encode(msg), "message " .. i .. " byte for byte")
  end
end

-- (Within a test's instruction budget: DNSNativeCodecTests changes more, with no budget.)
function test_both_paths_agree_on_real_messages_and_tables_changed_from_them()
  for i, bytes in ipairs(payloads("fixtures/dns-dig-nsd.pcap")) do agree(bytes, 100, "message " .. i) end
end

function test_both_paths_agree_on_every_truncation()
  for i, bytes in ipairs(payloads("fixtures/dns-dig-nsd.pcap")) do
    for length = 0, #bytes - 1 do agree(bytes:sub(1, length), 0, "message " .. i .. " cut to " .. length) end
  end
end

function test_both_paths_agree_on_byte_changes_of_the_srv_and_soa_answers()
  local packets = payloads("fixtures/dns-dig-nsd.pcap")
  for _, i in ipairs{8, 14} do
    local bytes = packets[i]
    for at = 1, #bytes do
      for _, new in ipairs{0xC0, 0xFF, (bytes:byte(at) + 1) & 0xFF} do
        agree(bytes:sub(1, at - 1) .. string.char(new) .. bytes:sub(at + 1), 0,
              "message " .. i .. " with byte " .. at .. " = " .. new)
      end
    end
  end
end

-- Names: pointers (to the root, to themselves, forward, in a loop, past the end), escapes
-- ("\.", "\\", "\DDD", bytes outside printable ASCII), the 255-byte limit.
function test_both_paths_agree_on_names()
  local header = unhex "0001 8400 0001 0000 0000 0000"
  local names = {
    "\0", "\3www\7example\4test\0", "\xC0\x0C", "\xC0\x0B", "\xC0\x0D", "\xC0\xFF", "\xC0", "\x40abc\0",
    "\3a.b\3c\\d\4\0\1\127\255\0", "\1 \1\"\0", "\5a\xC0\x0Cb\0", "\2ab\xC0\x0C",
    string.rep("\63" .. string.rep("a", 63), 3) .. "\62" .. string.rep("b", 62) .. "\0",
    string.rep("\63" .. string.rep("a", 63), 3) .. "\63" .. string.rep("b", 63) .. "\0",
    string.rep("\63" .. string.rep("\0", 63), 4) .. "\0",
  }
  for i, name in ipairs(names) do
    agree(header .. name .. "\0\1\0\1", 20, "name " .. i)
    -- The same name as an answer's owner, behind a question it may point into.
    agree(unhex "0001 8400 0001 0001 0000 0000 03777777 076578616d706c65 0474657374 00 0001 0001" .. name
          .. unhex "0001 0001 0000003c 0004 c6120001", 20, "owner " .. i)
  end
end

function test_the_core_reads_escaped_names_as_the_lua_code_does()
  local bytes = unhex "0001 0100 0001 0000 0000 0000" .. "\3a.b\3c\\d\4\0\1\127\255\0\0\1\0\1"
  local msg = core.decode(bytes)
  test.expect(msg, "the core reads it")
  test.equal(msg.questions[1].name, "a\\.b.c\\\\d.\\000\\001\\127\\255")
  test.equal(paths.difference(msg, pure.decode(bytes), "message"), nil)
end
