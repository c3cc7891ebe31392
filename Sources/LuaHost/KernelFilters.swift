import Devices
import Logging

/// Keeps the kernel filter of every packet-socket device to what the host's scripts want,
/// so frames nobody wants never reach user space: the selectors of every script's
/// handlers, each as a pcap-filter expression (a layer name as its protocol, keys left
/// to the host's own matching), or-ed together, with ARP (neighbours, the TCP engine's
/// answers), TCP while the host's TCP listens or holds a connection, and IPv6 fragments
/// and extension headers (hop-by-hop, routing, destination options: the filter cannot see
/// the next header past them). Anything that wants every frame (a `frame` or `eth`
/// handler, an `unclaimed` one, a recording, the console's sniff) leaves the socket
/// unfiltered, and so does anything asking for VLAN tags: the kernel takes a received
/// frame's tag out before the socket filter sees it (the device puts it back), so no
/// expression compiled for plain Ethernet can test for one, and libpcap's `vlan` shifts
/// every test after it by four bytes. A tagged frame passes on what it carries.
///
/// Recomputed on the loop's next turn after handlers or TCP listeners change (the
/// filter may be narrower than the scripts' wishes only for that long). Loop thread only.
final class KernelFilters {
    private unowned let host: TapirHost
    private var isScheduled = false

    init(host: TapirHost) {
        self.host = host
    }

    /// The host's handlers or listeners changed: look again on the loop's next turn.
    func changed() {
        guard !isScheduled, host.loop != nil,
              host.devices.contains(where: { $0.device is PacketSocketDevice }) else { return }
        isScheduled = true
        host.timers.schedule(after: .zero, repeating: nil) { [weak self] in
            guard let self else { return }
            self.isScheduled = false
            self.apply()
        }
    }

    /// Puts the expression the scripts want now into every packet-socket device.
    func apply() {
        let wanted = everyFrameWanted ? nil : Self.expression(for: host.scripts.map(\.state.handlers),
                                                             tcpActive: host.tcp.isActive)
        for device in host.devices {
            guard let socket = device.device as? PacketSocketDevice, !device.goneReported,
                  socket.kernelFilter != wanted else { continue }
            do {
                try socket.setKernelFilter(wanted)
                host.logger.debug("\(device.name): kernel filter \(wanted ?? "none")")
            } catch {
                host.logger.warning("\(device.name): the scripts' selectors cannot go into the kernel filter, every frame is read: \(error)")
                try? socket.setKernelFilter(nil)
            }
        }
    }

    private var everyFrameWanted: Bool {
        host.recordPath != nil || host.packetObserver != nil
    }

    /// The pcap-filter expression that passes every frame some handler may want, or nil
    /// when some handler wants them all.
    static func expression(for handlerLists: [[Handler]], tcpActive: Bool) -> String? {
        var parts: [String] = []
        for handlers in handlerLists {
            for handler in handlers {
                guard let part = expression(for: handler.selector) else { return nil }
                if !parts.contains(part) { parts.append(part) }
            }
        }
        if tcpActive, !parts.contains("tcp") { parts.append("tcp") }
        for always in ["arp", "ip6 proto 44", "ip6 proto 0", "ip6 proto 43", "ip6 proto 60"] where !parts.contains(always) {
            parts.append(always)
        }
        return parts.joined(separator: " or ")
    }

    private static func expression(for selector: HandlerSelector) -> String? {
        switch selector {
        case .unclaimed: nil
        case .filter(let expression): mentionsVLAN(expression) ? nil : "(\(expression))"
        case .layer(let layer, _):
            switch layer {
            case .frame, .eth, .vlan: nil
            case .arp: "arp"
            case .ip: "ip"
            case .ipv6: "ip6"
            case .icmp: "icmp"
            case .icmpv6: "icmp6"
            case .udp: "udp"
            case .tcp: "tcp"
            }
        }
    }

    /// Whether a pcap-filter expression uses `vlan` (or `mpls`, `pppoes`, `geneve`, which
    /// shift the offsets after them likewise) as a word.
    private static func mentionsVLAN(_ expression: String) -> Bool {
        var word = ""
        for character in expression.lowercased() + " " {
            if character.isLetter || character.isNumber || character == "_" {
                word.append(character)
            } else {
                if ["vlan", "mpls", "pppoes", "geneve"].contains(word) { return true }
                word = ""
            }
        }
        return false
    }
}
