/// The `test` table of a pack test's Lua state, and the driver the runner steps.
///
/// A test function runs in a coroutine; `test.inject`, `test.written`, `test.advance` and
/// `test.decode` yield a request to the runner (in Swift), which carries it out on the
/// pack's host and resumes the coroutine with the answer. Frames cross as hex text.
enum PackTestAPI {
    /// The most devices `test.devices(N)` gives a test.
    static let maxDevices = 64

    /// The Lua chunk that defines `test` and `__T`; `__T.configure(settings)` fills
    /// test.config (PackTestRunner hands it the pack's settings).
    static func prelude() -> String {
        let fields = PacketLayer.allCases.filter { $0 != .frame }.map { layer in
            "\(layer.rawValue) = {" + PacketField.fields(of: layer).map { "\"\($0.name)\"" }.joined(separator: ", ") + "}"
        }.joined(separator: ", ")
        return """
        local T = {asserts = 0, devices = 1, settings = ""}
        __T = T
        local FIELDS = {\(fields)}

        local function hex(bytes)
          return (bytes:gsub(".", function(c) return string.format("%02x", c:byte()) end))
        end
        local function unhex(text)
          return (text:gsub("..", function(pair) return string.char(tonumber(pair, 16)) end))
        end
        local function show(value)
          if type(value) == "string" then return string.format("%q", value) end
          return tostring(value)
        end

        test = {config = {}}

        -- Puts the settings into test.config, in place: a file's top level may hold
        -- test.config in a local.
        function T.configure(settings)
          for key in pairs(test.config) do test.config[key] = nil end
          for key, value in pairs(settings) do test.config[key] = value end
        end

        -- How many memory devices each test of this file gets (mem0..mem<N-1>, dev.id
        -- 1..N); called at the top of the file, before the tests run and load the pack.
        function test.devices(count)
          if T.co then error("test.devices: call it at the top of the test file, not in a test", 2) end
          if math.type(count) ~= "integer" or count < 1 or count > \(maxDevices) then
            error("test.devices: a number of devices from 1 to \(maxDevices) expected", 2)
          end
          T.devices = count
        end

        -- Settings this file's tests need, over the command line's --set: a table of
        -- strings, numbers, booleans or lists, checked against the manifest like --set.
        function test.settings(values)
          if T.co then error("test.settings: call it at the top of the test file, not in a test", 2) end
          if type(values) ~= "table" then error("test.settings: a table of settings expected", 2) end
          local lines = {}
          for key, value in pairs(values) do
            if type(key) ~= "string" then error("test.settings: setting names must be strings", 2) end
            local text
            if type(value) == "table" then
              local items = {}
              for i, item in ipairs(value) do items[i] = tostring(item) end
              text = table.concat(items, ",")
            elseif type(value) == "string" or type(value) == "number" or type(value) == "boolean" then
              text = tostring(value)
            else
              error("test.settings: setting '" .. key .. "' must be a string, number, boolean or list", 2)
            end
            if text:find("\\n") or key:find("[=\\n]") then
              error("test.settings: setting '" .. key .. "' holds a line break or '='", 2)
            end
            lines[#lines + 1] = key .. "=" .. text
          end
          table.sort(lines)
          T.settings = table.concat(lines, "\\n")
        end

        local function device(name, port)
          if port == nil then return 1 end
          if math.type(port) ~= "integer" or port < 1 or port > T.devices then
            error(name .. ": device " .. tostring(port) .. " is not one of 1.." .. T.devices ..
                  (T.devices == 1 and " (ask for more with test.devices(N) at the top of the file)" or ""), 3)
          end
          return port
        end

        -- Hands a frame (a byte string) to the pack's handlers, as if read from device
        -- `port` (its dev.id; the first by default).
        function test.inject(bytes, port)
          if type(bytes) ~= "string" then error("test.inject: a byte string expected", 2) end
          coroutine.yield("inject", device("test.inject", port) .. "\\t" .. hex(bytes))
        end

        -- The frames the pack wrote to device `port` (the first by default) since the
        -- last call for it (a list of byte strings).
        function test.written(port)
          local frames = {}
          for i, text in ipairs(coroutine.yield("written", tostring(device("test.written", port)))) do
            frames[i] = unhex(text)
          end
          return frames
        end

        -- Moves the pack's clock forward, firing its timers on the way.
        function test.advance(ms)
          if math.type(ms) ~= "integer" or ms < 0 then error("test.advance: milliseconds (an integer >= 0) expected", 2) end
          coroutine.yield("advance", tostring(ms))
        end

        -- A frame's fields as plain tables: t.eth.src, t.ip.ttl, t.payload, t.layers.
        function test.decode(bytes)
          if type(bytes) ~= "string" then error("test.decode: a byte string expected", 2) end
          return coroutine.yield("decode", hex(bytes))
        end

        -- The frames of a pcap file (a path relative to the test file), as byte strings.
        function test.pcap(path)
          if type(path) ~= "string" then error("test.pcap: a file name expected", 2) end
          local frames = {}
          for i, text in ipairs(coroutine.yield("pcap", path)) do frames[i] = unhex(text) end
          return frames
        end

        function test.expect(condition, message)
          T.asserts = T.asserts + 1
          if not condition then error(message or "expectation failed", 2) end
        end

        function test.equal(actual, expected, message)
          T.asserts = T.asserts + 1
          if actual ~= expected then
            error((message and message .. ": " or "") .. "expected " .. show(expected) .. ", got " .. show(actual), 2)
          end
        end

        tapir.on("frame", function(pkt)
          local t = {layers = pkt.layers, payload = pkt.payload}
          for layer in pkt.layers:gmatch("[^:]+") do
            local proxy, copy = pkt[layer], {}
            for _, name in ipairs(FIELDS[layer] or {}) do copy[name] = proxy[name] end
            t[layer] = copy
          end
          T.reply = t
          return true
        end)

        function T.names()
          local names = {}
          for name, value in pairs(_G) do
            if type(name) == "string" and name:match("^test_") and type(value) == "function" then
              names[#names + 1] = name
            end
          end
          table.sort(names)
          return table.concat(names, "\\n")
        end

        function T.begin(name)
          T.asserts = 0
          T.reply = nil
          T.co = coroutine.create(_G[name])
        end

        function T.step()
          local reply = T.reply
          T.reply = nil
          local ok, kind, argument = coroutine.resume(T.co, reply)
          if not ok then return "fail\\t" .. tostring(kind) end
          if coroutine.status(T.co) == "dead" then return "pass\\t" .. T.asserts end
          return tostring(kind) .. "\\t" .. tostring(argument)
        end

        function T.answer(frames)
          T.reply = frames
        end

        function T.fail(message)
          T.reply = nil
          T.co = coroutine.create(function() error(message, 0) end)
        end
        """
    }
}
