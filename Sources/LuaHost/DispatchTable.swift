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

    /// Handlers keyed on one field (`{dport = 53}`), found by the packet's value of that
    /// field with one hash lookup instead of a check each: with a thousand handlers on
    /// different ports, a packet costs about what it costs with one.
    struct KeyIndex {
        let field: PacketField
        /// Entry positions, ascending, by the key value they want.
        var positions: [PacketFieldKey: [Int]] = [:]
        /// Entries the index does not hold (no key on `field`, or a filter): checked one by one.
        var others: [Int] = []
    }

    /// Below this many handlers keyed on one field, checking each is as quick as a lookup.
    static let indexThreshold = 8

    private(set) var generation = -1
    private(set) var entries: [Entry] = []
    private(set) var unclaimed: [Handler] = []
    private(set) var index: KeyIndex?

    var isEmpty: Bool { entries.isEmpty && unclaimed.isEmpty }

    /// Calls `body` with each entry that matches the frame, in registration order, until
    /// it returns true (the packet was claimed).
    @inline(__always)
    func forEachMatch(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ body: (Entry) -> Bool) {
        guard let index else {
            for entry in entries where entry.matches(bytes, frame) {
                if body(entry) { return }
            }
            return
        }
        let keyed = index.field.lookupKey(bytes: bytes, frame: frame).flatMap { index.positions[$0] } ?? []
        // Merge the two ascending lists of positions: registration order is kept.
        var nextKeyed = 0
        var nextOther = 0
        while nextKeyed < keyed.count || nextOther < index.others.count {
            let position: Int
            if nextOther >= index.others.count
                || (nextKeyed < keyed.count && keyed[nextKeyed] < index.others[nextOther]) {
                position = keyed[nextKeyed]
                nextKeyed += 1
            } else {
                position = index.others[nextOther]
                nextOther += 1
            }
            let entry = entries[position]
            if entry.matches(bytes, frame), body(entry) { return }
        }
    }

    /// Brings the table up to date with the state's handlers.
    mutating func refresh(from state: LuaState, filters: FilterCache) {
        guard generation != state.handlerGeneration else { return }
        generation = state.handlerGeneration
        entries.removeAll(keepingCapacity: true)
        unclaimed.removeAll(keepingCapacity: true)
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
        index = Self.makeIndex(entries)
    }

    /// Indexes the entries by the field most of them have a key on, when enough do.
    private static func makeIndex(_ entries: [Entry]) -> KeyIndex? {
        var counts: [PacketField: Int] = [:]
        for entry in entries {
            for field in Set(entry.keys.map(\.field)) where field.isIndexable { counts[field, default: 0] += 1 }
        }
        guard let (field, count) = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }),
              count >= indexThreshold else { return nil }
        var index = KeyIndex(field: field)
        for (position, entry) in entries.enumerated() {
            if let key = entry.keys.first(where: { $0.field == field }) {
                index.positions[key.key, default: []].append(position)
            } else {
                index.others.append(position)
            }
        }
        return index
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
