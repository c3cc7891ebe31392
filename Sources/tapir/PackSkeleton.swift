/// The files `tapir pack new NAME` writes: a pack that answers UDP datagrams on one port
/// with a greeting, and a test of it.
enum PackSkeleton {
    static func files(name: String) -> [(String, String)] {
        [
            ("pack.lua", """
            return {
              name = "\(name)",
              version = "0.1.0",
              description = "Answers UDP datagrams on one port with a greeting",
              api = 1,
              handlers = {"main.lua"},
              config = {
                ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address answered"},
                port = {type = "port", default = 9000, help = "the UDP port answered"},
                greeting = {type = "string", default = "hello from \(name)", help = "what the answer says"},
              },
              permissions = {},
            }

            """),
            ("main.lua", """
            -- Every datagram to ip:port gets the greeting back. tapir.config holds the settings.
            local config = tapir.config

            tapir.on("udp", {dport = config.port}, function(pkt, dev)
              if not pkt.ip or pkt.ip.dst ~= config.ip then return end
              dev:write(pkt:reply{payload = config.greeting})
              return true
            end)

            """),
            ("tests/main_test.lua", """
            -- Run with: tapir test <folder> (each test_ function gets a fresh host).
            local config = test.config

            function test_a_datagram_gets_the_greeting()
              test.inject(tapir.build.eth{src = "02:00:00:00:00:01", dst = "02:00:00:00:00:02", type = 0x0800}
                       .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 17,
                                         payload = tapir.build.udp{sport = 5000, dport = config.port, payload = "hi"}})
              local out = test.written()
              test.equal(#out, 1, "frames written")
              local reply = test.decode(out[1])
              test.equal(reply.payload, config.greeting)
              test.equal(reply.udp.dport, 5000)
            end

            """),
            ("README.md", """
            # \(name)

            Answers UDP datagrams on one port with a greeting.

                tapir run \(name) --set port=9000

            """),
        ]
    }
}
