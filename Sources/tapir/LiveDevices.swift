import ArgumentParser
import Devices
import Glibc
import LuaHost

/// One `--dev` argument: `NAME`, `NAME:tap` or `NAME:tun` (the suffix overrides the
/// command's default mode for that device), or `NAME:packet[,promisc][,v3]`: an existing
/// interface served through a packet socket (promiscuous on request; a TPACKET_V3 ring).
struct DeviceArgument: Equatable {
    let name: String
    let mode: DeviceMode?
    /// Set for `NAME:packet`.
    let packet: PacketOptions?

    struct PacketOptions: Equatable {
        var promiscuous = false
        var blocks = false
    }

    init(parsing text: String) throws(DeviceArgumentError) {
        var name = Substring(text)
        var mode: DeviceMode?
        var packet: PacketOptions?
        if let colon = text.lastIndex(of: ":") {
            let words = text[text.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false)
            switch words.first {
            case "tap" where words.count == 1: mode = .tap
            case "tun" where words.count == 1: mode = .tun
            case "packet":
                var options = PacketOptions()
                for word in words.dropFirst() {
                    switch word {
                    case "promisc": options.promiscuous = true
                    case "v3": options.blocks = true
                    default: throw DeviceArgumentError(text: text)
                    }
                }
                packet = options
            default: throw DeviceArgumentError(text: text)
            }
            name = text[..<colon]
        }
        guard !name.isEmpty, name.utf8.count < 16, !name.contains("/"), !name.contains(where: \.isWhitespace) else {
            throw DeviceArgumentError(text: text)
        }
        self.name = String(name)
        self.mode = mode
        self.packet = packet
    }
}

struct DeviceArgumentError: Error, CustomStringConvertible {
    let text: String
    var description: String {
        "--dev '\(text)': expected NAME, NAME:tap, NAME:tun or NAME:packet[,promisc][,v3] "
            + "(a device name of 1 to 15 characters, no '/' or spaces)"
    }
}

/// How a sandbox reaches its host: a tap moved into the namespace, or a veth pair whose
/// peer is in the namespace and whose own end a packet-socket device serves.
enum SandboxLink: String, CaseIterable, ExpressibleByArgument {
    case tap, veth
}

/// The devices a live command (`run`, `console`) serves: the ones `--dev` names (created
/// if missing, brought up), or fresh taps/tuns each moved into a sandbox namespace of its
/// own with the kernel side addressed as host 1..N of 198.18.0.0/24 (or, with
/// `--sandbox-link veth`, veth pairs served as packet-socket devices). Failures end the
/// command with the device layer's message, after removing any sandbox already made.
struct LiveDevices {
    /// Each queue's descriptors of the devices, in the same order: queue 1's first
    /// (`--queues N` opens N of each device; one queue otherwise).
    let queues: [[any PacketDevice]]
    /// One per device when sandboxed (device i in sandboxes[i]), else empty.
    let sandboxes: [Sandbox]

    /// The devices, as queue 1 has them.
    var devices: [any PacketDevice] { queues[0] }

    init(devices: [any PacketDevice], sandboxes: [Sandbox]) {
        self.init(queues: [devices], sandboxes: sandboxes)
    }

    init(queues: [[any PacketDevice]], sandboxes: [Sandbox]) {
        self.queues = queues
        self.sandboxes = sandboxes
    }

    static let maximumHosts = 64

    /// With `queues` > 1 a tun/tap is opened as a multi-queue device (IFF_MULTI_QUEUE),
    /// once per queue, and a packet device as that many sockets in a fanout group.
    static func open(_ arguments: [DeviceArgument], sandboxHosts: Int, mode: DeviceMode,
                     packetInfo: Bool, sandboxLink: SandboxLink = .tap, offloads: Bool = false,
                     queues: Int = 1, batchedIO: Bool = true) throws -> LiveDevices {
        if !arguments.isEmpty {
            do {
                // Per device, its queues.
                let opened = try arguments.map { (argument) throws(DeviceError) -> [any PacketDevice] in
                    if let packet = argument.packet {
                        let configuration = PacketSocketDevice.Configuration(
                            name: argument.name, promiscuous: packet.promiscuous, blocks: packet.blocks, bringUp: true,
                            offloads: offloads)
                        if queues > 1 { return try PacketSocketDevice.openFanout(configuration, count: queues) }
                        return [try PacketSocketDevice.open(configuration)]
                    }
                    let configuration = TunTapDevice.Configuration(name: argument.name, mode: argument.mode ?? mode,
                                                                   packetInfo: packetInfo, bringUp: true,
                                                                   offloads: offloads, batchedIO: batchedIO)
                    if queues > 1 { return try TunTapDevice.openQueues(configuration, count: queues) }
                    return [try TunTapDevice.open(configuration)]
                }
                return LiveDevices(queues: (0..<queues).map { queue in opened.map { $0[queue] } }, sandboxes: [])
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
        }
        if sandboxLink == .veth { return try openVethSandboxes(hosts: sandboxHosts, queues: queues, offloads: offloads) }
        var devices: [[TunTapDevice]] = []
        var sandboxes: [Sandbox] = []
        do {
            // All opened (every queue) before any moves out, so the kernel gives each a
            // name of its own and the queues attach to it here.
            for _ in 1...sandboxHosts {
                let configuration = TunTapDevice.Configuration(name: mode == .tap ? "tapir%d" : "tapirtun%d", mode: mode,
                                                               packetInfo: packetInfo, offloads: offloads, batchedIO: batchedIO)
                devices.append(queues > 1 ? try TunTapDevice.openQueues(configuration, count: queues)
                                          : [try TunTapDevice.open(configuration)])
            }
            for (index, device) in devices.enumerated() {
                let sandbox = try Sandbox()
                sandboxes.append(sandbox)
                try sandbox.adopt(device[0], host: index + 1)
            }
            return LiveDevices(queues: (0..<queues).map { queue in devices.map { $0[queue] } }, sandboxes: sandboxes)
        } catch {
            for sandbox in sandboxes { sandbox.remove() }
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
    }

    /// One sandbox per host, each reached through a veth pair (`tv<pid>-<n>` here, `eth0`
    /// in the sandbox) whose end here a packet-socket device serves.
    private static func openVethSandboxes(hosts: Int, queues: Int, offloads: Bool) throws -> LiveDevices {
        var devices: [[any PacketDevice]] = []
        var sandboxes: [Sandbox] = []
        do {
            for index in 0..<hosts {
                let sandbox = try Sandbox()
                sandboxes.append(sandbox)
                let name = "tv\(getpid())-\(index)"
                try sandbox.makeVethPair(name, host: index + 1)
                let configuration = PacketSocketDevice.Configuration(name: name, offloads: offloads)
                devices.append(queues > 1 ? try PacketSocketDevice.openFanout(configuration, count: queues)
                                          : [try PacketSocketDevice.open(configuration)])
            }
            return LiveDevices(queues: (0..<queues).map { queue in devices.map { $0[queue] } }, sandboxes: sandboxes)
        } catch {
            for sandbox in sandboxes { sandbox.remove() }
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
    }

    func removeSandboxes() {
        for sandbox in sandboxes { sandbox.remove() }
    }

    /// How to reach the sandboxed hosts, for the user; empty when there are none.
    var reachability: String {
        guard let first = sandboxes.first else { return "" }
        if sandboxes.count == 1 {
            return """
                tapir: sandbox namespace \(first.namespace), device \(devices[0].name) (kernel side \
                \(Sandbox.kernelIPv4Address), \(Sandbox.kernelIPv6Address)); the host's scripts answer as they choose, e.g. 198.18.0.2
                  ip netns exec \(first.namespace) ping 198.18.0.2
                  ip netns exec \(first.namespace) ping -6 2001:2::2

                """
        }
        var text = "tapir: \(sandboxes.count) sandboxed hosts, one device each, all in 198.18.0.0/24 and 2001:2::/64:\n"
        for (index, sandbox) in sandboxes.enumerated() {
            let kernel = Sandbox.kernelAddresses(host: index + 1)
            text += "  host \(index + 1): namespace \(sandbox.namespace), device \(devices[index].name) (dev.id \(index + 1)), "
                + "kernel side \(kernel.ipv4), \(kernel.ipv6)\n"
        }
        let second = Sandbox.kernelAddresses(host: 2).ipv4.split(separator: "/")[0]
        text += "  e.g. ip netns exec \(first.namespace) ping \(second)\n\n"
        return text
    }

    /// What tapir.open uses in a live host: a real tun/tap, brought up.
    static func opener(_ request: TapirHost.DeviceRequest) throws -> any PacketDevice {
        try TunTapDevice.open(.init(name: request.name, mode: request.mode, packetInfo: request.packetInfo,
                                    bringUp: true))
    }
}
