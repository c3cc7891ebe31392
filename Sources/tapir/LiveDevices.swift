import Devices
import LuaHost

/// One `--dev` argument: `NAME`, `NAME:tap` or `NAME:tun` (the suffix overrides the
/// command's default mode for that device).
struct DeviceArgument: Equatable {
    let name: String
    let mode: DeviceMode?

    init(parsing text: String) throws(DeviceArgumentError) {
        var name = Substring(text)
        var mode: DeviceMode?
        if let colon = text.lastIndex(of: ":") {
            switch text[text.index(after: colon)...] {
            case "tap": mode = .tap
            case "tun": mode = .tun
            default: throw DeviceArgumentError(text: text)
            }
            name = text[..<colon]
        }
        guard !name.isEmpty, name.utf8.count < 16, !name.contains("/"), !name.contains(where: \.isWhitespace) else {
            throw DeviceArgumentError(text: text)
        }
        self.name = String(name)
        self.mode = mode
    }
}

struct DeviceArgumentError: Error, CustomStringConvertible {
    let text: String
    var description: String {
        "--dev '\(text)': expected NAME, NAME:tap or NAME:tun (a device name of 1 to 15 characters, no '/' or spaces)"
    }
}

/// The devices a live command (`run`, `console`) serves: the ones `--dev` names (created
/// if missing, brought up), or fresh taps/tuns each moved into a sandbox namespace of its
/// own with the kernel side addressed as host 1..N of 198.18.0.0/24. Failures end the
/// command with the device layer's message, after removing any sandbox already made.
struct LiveDevices {
    let devices: [TunTapDevice]
    /// One per device when sandboxed (device i in sandboxes[i]), else empty.
    let sandboxes: [Sandbox]

    static let maximumHosts = 64

    static func open(_ arguments: [DeviceArgument], sandboxHosts: Int, mode: DeviceMode,
                     packetInfo: Bool, offloads: Bool = false) throws -> LiveDevices {
        if !arguments.isEmpty {
            do {
                let devices = try arguments.map { (argument) throws(DeviceError) in
                    try TunTapDevice.open(.init(name: argument.name, mode: argument.mode ?? mode,
                                                packetInfo: packetInfo, bringUp: true, offloads: offloads))
                }
                return LiveDevices(devices: devices, sandboxes: [])
            } catch {
                throw CleanExit.message("tapir: \(error)", code: 1)
            }
        }
        var devices: [TunTapDevice] = []
        var sandboxes: [Sandbox] = []
        do {
            // All opened before any moves out, so the kernel gives each a name of its own.
            for _ in 1...sandboxHosts {
                devices.append(try TunTapDevice.open(.init(name: mode == .tap ? "tapir%d" : "tapirtun%d", mode: mode,
                                                           packetInfo: packetInfo, offloads: offloads)))
            }
            for (index, device) in devices.enumerated() {
                let sandbox = try Sandbox()
                sandboxes.append(sandbox)
                try sandbox.adopt(device, host: index + 1)
            }
            return LiveDevices(devices: devices, sandboxes: sandboxes)
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
