import Capture
import Packets

/// A script's handlers arranged for native dispatch: for each, the layer it needs, its
/// keys resolved to native comparisons, or its pcap filter compiled per link type. Rebuilt
/// only when the script adds or removes a handler; per packet it is read, never changed,
/// and a packet no handler wants never reaches Lua.
struct DispatchTable {
    struct Entry {
        let handler: Handler
        let layer: Layers
        let keys: [KeyMatch]
        /// Compiled for Ethernet and for raw IP (nil where it does not compile: such a
        /// filter was refused at tapir.on for the link types in use).
        let ethernetFilter: PcapFilter?
        let rawIPFilter: PcapFilter?

        @inline(__always)
        func matches(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> Bool {
            if ethernetFilter != nil || rawIPFilter != nil {
                let filter = frame.linkType == .ethernet ? ethernetFilter : rawIPFilter
                return filter?.matches(bytes) ?? false
            }
            guard frame.layers.contains(layer) else { return false }
            for key in keys where !key.matches(bytes, frame) { return false }
            return true
        }
    }

    private(set) var generation = -1
    private(set) var entries: [Entry] = []
    private(set) var unclaimed: [Handler] = []
    /// Every layer some entry needs (a filter needs `.frame`): a frame with none of them
    /// skips the script without a look at its entries.
    private(set) var layerMask: Layers = []

    var isEmpty: Bool { entries.isEmpty && unclaimed.isEmpty }

    /// Brings the table up to date with the state's handlers.
    mutating func refresh(from state: LuaState, filters: FilterCache) {
        guard generation != state.handlerGeneration else { return }
        generation = state.handlerGeneration
        entries.removeAll(keepingCapacity: true)
        unclaimed.removeAll(keepingCapacity: true)
        defer { layerMask = entries.reduce(into: []) { $0.formUnion($1.layer) } }
        for handler in state.handlers {
            switch handler.selector {
            case .unclaimed:
                unclaimed.append(handler)
            case .layer(let layer, let keys):
                let resolved = keys.compactMap { try? KeyMatch.resolve(layer: layer, key: $0).get() }
                entries.append(Entry(handler: handler, layer: Layers(name: layer.rawValue) ?? .frame,
                                     keys: resolved, ethernetFilter: nil, rawIPFilter: nil))
            case .filter(let expression):
                entries.append(Entry(handler: handler, layer: .frame, keys: [],
                                     ethernetFilter: try? filters.filter(expression, .ethernet),
                                     rawIPFilter: try? filters.filter(expression, .rawIP)))
            }
        }
    }
}

/// pcap-filter expressions compiled once per link type and shared by every script.
final class FilterCache {
    private struct Key: Hashable {
        let expression: String
        let linkType: LinkType
    }

    private var compiled: [Key: PcapFilter] = [:]

    func filter(_ expression: String, _ linkType: LinkType) throws(CaptureError) -> PcapFilter {
        let key = Key(expression: expression, linkType: linkType)
        if let filter = compiled[key] { return filter }
        let filter = try PcapFilter(expression, linkType: linkType == .ethernet ? .ethernet : .rawIP)
        compiled[key] = filter
        return filter
    }
}
