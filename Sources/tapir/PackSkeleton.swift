/// The files `tapir pack new NAME` writes: a pack that is a host on the link (ARP, NDP and
/// ping through tapir.neighbours, so `tapir run ./NAME` is reachable from the kernel at once)
/// answering UDP datagrams on one port with a greeting, and tests of it.
enum PackSkeleton {
    /// Where the pack's .luarc.json looks for the API's annotations (`tapir api --luals`).
    static let annotationsFolder = ".luals"
    static let annotationsPath = annotationsFolder + "/tapir.lua"

    static func files(name: String) -> [(String, String)] {
        [
            ("pack.lua", """
            return {
              name = "\(name)",
              version = "0.1.0",
              description = "A host that answers ping, and UDP datagrams on one port with a greeting",
              api = 1,
              handlers = {"main.lua"},
              config = {
                ip = {type = "ipv4", default = "198.18.0.2", help = "the IPv4 address answered"},
                ipv6 = {type = "ipv6", default = "2001:2::2", help = "the IPv6 address answered"},
                mac = {type = "mac", default = "02:54:41:50:49:52", help = "the MAC address of ip and ipv6"},
                port = {type = "port", default = 9000, help = "the UDP port answered"},
                greeting = {type = "string", default = "hello from \(name)", help = "what the answer says"},
              },
              permissions = {},
            }

            """),
            ("main.lua", """
            -- tapir.config holds the settings.
            local config = tapir.config
            local neighbours = require "tapir.neighbours"

            -- The host on the link: ARP for ip and neighbour discovery for ipv6 answered with mac,
            -- pings answered, frames to another host's MAC ignored. First, so the handlers below
            -- never see those frames.
            neighbours.new{mac = config.mac, ipv4 = config.ip, ipv6 = config.ipv6, ping = true}:start()

            -- Every datagram to ip:port gets the greeting back.
            tapir.on("udp", {dport = config.port}, function(pkt, dev)
              local ip = pkt.ip or pkt.ipv6
              if ip.dst ~= config.ip and ip.dst ~= config.ipv6 then return end
              dev:write(pkt:reply{payload = config.greeting})
              return true
            end)

            """),
            ("tests/main_test.lua", """
            -- Run with: tapir test <folder> (each test_ function gets a fresh host).
            local config = test.config
            local PEER_MAC = "02:00:00:00:00:01"

            function test_a_datagram_gets_the_greeting()
              test.inject(tapir.build.eth{src = PEER_MAC, dst = config.mac, type = 0x0800}
                       .. tapir.build.ip{src = "198.18.0.1", dst = config.ip, proto = 17,
                                         payload = tapir.build.udp{sport = 5000, dport = config.port, payload = "hi"}})
              local out = test.written()
              test.equal(#out, 1, "frames written")
              local reply = test.decode(out[1])
              test.equal(reply.payload, config.greeting)
              test.equal(reply.udp.dport, 5000)
            end

            function test_arp_for_its_address_is_answered()
              test.inject(tapir.build.eth{src = PEER_MAC, dst = "ff:ff:ff:ff:ff:ff", type = 0x0806}
                       .. tapir.build.arp{op = 1, sha = PEER_MAC, spa = "198.18.0.1", tpa = config.ip})
              local out = test.written()
              test.equal(#out, 1, "frames written")
              test.equal(test.decode(out[1]).arp.sha, config.mac)
            end

            """),
            // For LuaLS (VS Code's Lua extension, Neovim's lua_ls): the annotations tapir api
            // writes, and the globals a pack has. .luals/tapir.lua is written beside it.
            (".luarc.json", """
            {
              "$schema": "https://raw.githubusercontent.com/LuaLS/vscode-lua/master/setting/schema.json",
              "runtime.version": "Lua 5.4",
              "workspace.library": [".luals"],
              "workspace.checkThirdParty": false,
              "diagnostics.globals": ["tapir", "test"]
            }

            """),
            ("README.md", """
            # \(name)

            A host at 198.18.0.2 (and 2001:2::2) that answers ARP, neighbour discovery and ping,
            and UDP datagrams on one port with a greeting. Run it in a sandbox (a namespace of its
            own; root needed):

                sudo tapir run ./\(name)

            It prints the namespace it made (tapir-1234-1 below); from another terminal:

                sudo ip netns exec tapir-1234-1 ping 198.18.0.2
                echo hi | sudo ip netns exec tapir-1234-1 nc -u -w1 198.18.0.2 9000

            Its tests: `tapir test ./\(name)`.

            Editors: `.luarc.json` points LuaLS (VS Code's Lua extension, Neovim's lua_ls) at
            `.luals/tapir.lua`, annotations of tapir's Lua API, for completion and type checks.
            After upgrading tapir, regenerate them:

                tapir api --luals --output .luals/tapir.lua

            """),
        ]
    }
}
