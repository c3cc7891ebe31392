import Capture
import Packets
import Reactor

/// The path of a packet read from a device to the Lua handlers that asked for it: the
/// native decoder, IPv4 reassembly for the scripts that want whole datagrams, each
/// script's dispatch table, claims, and the `unclaimed` handlers. Loop thread only.
final class PacketDispatch {
    /// The scripts in dispatch order (the host's).
    var scripts: [Script] = [] {
        didSet { handlerChanges.bump() }
    }
    /// Bumped when a script's handlers or the scripts change.
    let handlerChanges = HandlerChanges()
    /// Compiled pcap-filter selectors, per expression and link type.
    let filters = FilterCache()
    /// IPv4 and IPv6 fragments collected for scripts that set `tapir.reassemble = true`.
    let reassembler = IPv4Reassembler()
    let reassembler6 = IPv6Reassembler()
    /// The host's clock (reassembly timeouts).
    private let clock: () -> TimerInstant
    /// What all scripts' handlers want, as of `handlerChanges.generation == wantedGeneration`:
    /// a frame with none of these layers, when no script has an unclaimed handler, is
    /// counted unclaimed without a look at any script.
    private var wantedLayers: Layers = []
    private var anyUnclaimedHandler = false
    private var wantedGeneration = -1

    /// The host's TCP (the host owns it): offered each TCP segment before any handler, and
    /// each ARP request nothing claimed (it answers for its listeners' addresses). Unowned
    /// and called directly: no retain, no closure on the per-packet path.
    unowned(unsafe) var tcp: TCPService?

    init(clock: @escaping () -> TimerInstant) {
        self.clock = clock
    }

    /// Decodes one packet and hands it to the handlers that asked for it, in order,
    /// until one claims it; then, if none did, to the `unclaimed` handlers. An IPv4 or
    /// IPv6 fragment goes as it is to the scripts that did not ask for reassembly, and into
    /// the reassembler for those that did: they see the whole datagram once it is complete.
    /// (Inlined into TapirHost.handle: one call less per packet.)
    @inline(__always)
    func handle(_ bytes: UnsafeRawBufferPointer, from device: HostDevice) {
        let frame = FrameDecoder.decode(bytes, linkType: device.linkType)
        if frame.isMalformed { device.malformedFrames += 1 }
        if frame.has(.tcp), let tcp, tcp.isActive, tcp.claim(bytes, frame, from: device) { return }
        guard frame.isFragment, frame.has(.ip) || frame.has(.ipv6), scripts.contains(where: \.wantsReassembly) else {
            return dispatch(bytes, frame, from: device, to: nil)
        }
        dispatch(bytes, frame, from: device, to: false)
        let nanoseconds = Int64(clamping: clock().nanoseconds)
        let completed = frame.has(.ip)
            ? reassembler.add(bytes, networkOffset: frame.networkOffset, now: nanoseconds)
            : reassembler6.add(bytes, networkOffset: frame.networkOffset, now: nanoseconds)
        guard let whole = completed else { return }
        whole.withUnsafeBytes { whole in
            dispatch(whole, FrameDecoder.decode(whole, linkType: device.linkType), from: device, to: true)
        }
    }

    /// Dispatches a decoded packet to every script (`reassembling` nil), or only to those
    /// whose `wantsReassembly` is `reassembling`. Entries are read in place (by index),
    /// so the per-packet path neither copies a table nor retains its handlers.
    private func dispatch(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, from device: HostDevice,
                          to reassembling: Bool?) {
        if wantedGeneration != handlerChanges.generation { refreshWanted() }
        if frame.layers.isDisjoint(with: wantedLayers), !anyUnclaimedHandler {
            device.unclaimedFrames += 1
            if frame.has(.arp) { answerARP(bytes, frame, from: device) }
            return
        }
        var claimed = false
        // Whether the frame's checksums verify, found at the first script that asks.
        var checksumsVerify: Bool?
        for script in scripts where !claimed {
            if let reassembling, script.wantsReassembly != reassembling { continue }
            if script.verifiesChecksums, !Self.verify(&checksumsVerify, bytes, frame, device) { continue }
            // refreshWanted() above brought every table up to date; only a handler that
            // added or removed handlers during this packet makes another look needed.
            if wantedGeneration != handlerChanges.generation { refreshDispatchTable(of: script) }
            let table = script.dispatchTable
            guard !frame.layers.isDisjoint(with: table.layerMask) else { continue }
            var bound = false
            var walk = table.walk(bytes, frame)
            while let index = table.nextCandidate(&walk) {
                let entry = table.entries[index]
                guard entry.matches(bytes, frame) else { continue }
                if !bound {
                    script.bind(bytes, frame, device)
                    bound = true
                }
                if callHandler(entry.handler, of: script, deviceID: device.id) == .claimed {
                    claimed = true
                    break
                }
            }
            if bound { script.unbind() }
        }
        if claimed { return }
        device.unclaimedFrames += 1
        for script in scripts {
            if let reassembling, script.wantsReassembly != reassembling { continue }
            if script.verifiesChecksums, !Self.verify(&checksumsVerify, bytes, frame, device) { continue }
            refreshDispatchTable(of: script)
            guard !script.dispatchTable.unclaimed.isEmpty else { continue }
            script.bind(bytes, frame, device)
            defer { script.unbind() }
            for handler in script.dispatchTable.unclaimed
            where callHandler(handler, of: script, deviceID: device.id) == .claimed {
                return
            }
        }
        if frame.has(.arp) { answerARP(bytes, frame, from: device) }
    }

    /// Whether the frame's checksums verify, worked out once per frame (a failure counted
    /// on the device then).
    @inline(never)
    private static func verify(_ verdict: inout Bool?, _ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame,
                               _ device: HostDevice) -> Bool {
        if let verdict { return verdict }
        let verifies = FrameChecksums(bytes, frame).allVerify
        if !verifies { device.badChecksumFrames += 1 }
        verdict = verifies
        return verifies
    }

    @inline(never)
    private func answerARP(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, from device: HostDevice) {
        guard let tcp, tcp.isActive else { return }
        tcp.answerUnclaimed(bytes, frame, from: device)
    }

    /// One handler call with the script's packet object and the device.
    @inline(__always)
    private func callHandler(_ handler: Handler, of script: Script, deviceID: Int64) -> HandlerOutcome {
        // The block exists once the script is made (a packet API install that fails throws).
        guard let packet = script.packetObject.block else { return .declined }
        return script.state.call(handler, packet: packet, deviceID: deviceID)
    }

    private func refreshWanted() {
        wantedGeneration = handlerChanges.generation
        wantedLayers = []
        anyUnclaimedHandler = false
        for script in scripts {
            refreshDispatchTable(of: script)
            wantedLayers.formUnion(script.dispatchTable.layerMask)
            anyUnclaimedHandler = anyUnclaimedHandler || !script.dispatchTable.unclaimed.isEmpty
        }
    }

    /// Rebuilds the script's dispatch table if its handlers changed.
    @inline(__always)
    private func refreshDispatchTable(of script: Script) {
        if script.dispatchTable.generation != script.state.handlerGeneration {
            script.dispatchTable.refresh(from: script.state, filters: filters)
        }
    }

    /// Why a new selector cannot be dispatched, or nil: a filter must compile for every
    /// link type there is (Ethernet when there is no device yet).
    func check(_ selector: HandlerSelector, linkTypes: Set<LinkType>) -> String? {
        guard case .filter(let expression) = selector else { return nil }
        let linkTypes = linkTypes.isEmpty ? [.ethernet] : linkTypes
        for linkType in linkTypes.sorted(by: { $0 == .ethernet && $1 != .ethernet }) {
            do {
                _ = try filters.filter(expression, linkType)
            } catch {
                // A bare word was most likely meant as a layer ("dns"): say both readings.
                if case .badFilter(_, _, let reason) = error, Self.isBareWord(expression) {
                    return "'\(expression)' is not a layer (layers: "
                        + PacketLayer.allCases.map(\.rawValue).joined(separator: ", ")
                        + ", and unclaimed); as a pcap filter: \(reason)"
                }
                return "\(error)"
            }
        }
        return nil
    }

    /// One word of letters, digits, '_' and '-' (no spaces, operators or numbers alone).
    static func isBareWord(_ expression: String) -> Bool {
        !expression.isEmpty && expression.utf8.allSatisfy { $0.isIdentifierByte || $0 == 0x2d }
    }
}
