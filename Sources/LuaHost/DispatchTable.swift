import Capture
import Packets

/// A script's handlers arranged for native dispatch: for each, the layer it needs, its
/// keys resolved to native comparisons, or its pcap filter compiled per link type. Rebuilt
/// only when the script adds or removes a handler; per packet it is read, never changed,
/// and a packet no handler wants never reaches Lua.
///
/// A class, owned by its script: a struct kept in the script was copied out for each
/// packet's walk (four retains and four releases of its arrays per script and packet).
final class DispatchTable {
    /// A class, so checking an entry per packet reads it in place: a struct element of the
    /// array was copied out for each check, retaining and releasing its references.
    final class Entry {
        let handler: Handler
        let layer: Layers
        let keys: [KeyMatch]
        /// Compiled for Ethernet and for raw IP (nil where it does not compile: such a
        /// filter was refused at tapir.on for the link types in use).
        let ethernetFilter: PcapFilter?
        let rawIPFilter: PcapFilter?
        /// Set for the filter tapir.neighbours installs (`ForeignFrames`): checked natively,
        /// the same answer as its BPF program without running it.
        let foreign: ForeignFrames?

        init(handler: Handler, layer: Layers, keys: [KeyMatch], ethernetFilter: PcapFilter?, rawIPFilter: PcapFilter?,
             foreign: ForeignFrames? = nil) {
            self.handler = handler
            self.layer = layer
            self.keys = keys
            self.ethernetFilter = ethernetFilter
            self.rawIPFilter = rawIPFilter
            self.foreign = foreign
        }

        @inline(__always)
        func matches(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> Bool {
            if let foreign {
                return frame.linkType == .ethernet ? foreign.matches(bytes) : (rawIPFilter?.matches(bytes) ?? false)
            }
            if ethernetFilter != nil || rawIPFilter != nil {
                let filter = frame.linkType == .ethernet ? ethernetFilter : rawIPFilter
                return filter?.matches(bytes) ?? false
            }
            guard frame.layers.contains(layer) else { return false }
            // By index: each key is compared in place, not copied out (a copy retains).
            for position in keys.indices where !keys[position].matches(bytes, frame) { return false }
            return true
        }
    }

    /// Below this many handlers keyed on one field, checking each is as quick as a lookup.
    static let indexThreshold = 8

    private(set) var generation = -1
    private(set) var entries: [Entry] = []
    private(set) var unclaimed: [Handler] = []
    /// Every layer some entry needs (a filter needs `.frame`): a frame with none of them
    /// skips the script without a look at its entries.
    private(set) var layerMask: Layers = []
    /// Handlers keyed on one field (`{dport = 53}`) are found by the packet's value of that
    /// field with one hash lookup instead of a check each: with a thousand handlers on
    /// different ports, a packet costs about what it costs with one. Nil: not indexed
    /// (fewer than `indexThreshold` such handlers), every entry is checked.
    private(set) var indexField: PacketField?
    /// Entry positions, ascending, by the key value they want on `indexField`.
    private(set) var indexPositions: [PacketFieldKey: [Int]] = [:]
    /// Entries the index does not hold (no key on `indexField`, or a filter), ascending.
    private(set) var indexOthers: [Int] = []

    var isEmpty: Bool { entries.isEmpty && unclaimed.isEmpty }

    /// Where a packet's walk through the entries is (see `nextCandidate`).
    struct Walk {
        fileprivate var keyed: [Int]
        fileprivate var nextKeyed = 0
        fileprivate var next = 0
    }

    /// Starts a walk over the entries a frame may match: all of them, or, when the table
    /// is indexed, those keyed on the frame's value of the index field and the others.
    @inline(__always)
    func walk(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame) -> Walk {
        guard let field = indexField else { return Walk(keyed: []) }
        return Walk(keyed: field.lookupKey(bytes: bytes, frame: frame).flatMap { indexPositions[$0] } ?? [])
    }

    /// The position of the next entry to check, in registration order (the two ascending
    /// lists of an indexed table merged); nil at the end. The caller still checks `matches`.
    @inline(__always)
    func nextCandidate(_ walk: inout Walk) -> Int? {
        guard indexField != nil else {
            guard walk.next < entries.count else { return nil }
            defer { walk.next += 1 }
            return walk.next
        }
        let keyedLeft = walk.nextKeyed < walk.keyed.count
        let othersLeft = walk.next < indexOthers.count
        if keyedLeft, !othersLeft || walk.keyed[walk.nextKeyed] < indexOthers[walk.next] {
            defer { walk.nextKeyed += 1 }
            return walk.keyed[walk.nextKeyed]
        }
        guard othersLeft else { return nil }
        defer { walk.next += 1 }
        return indexOthers[walk.next]
    }

    /// Brings the table up to date with the state's handlers.
    func refresh(from state: LuaState, filters: FilterCache) {
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
                                     rawIPFilter: try? filters.filter(expression, .rawIP),
                                     foreign: ForeignFrames(expression: expression)))
            }
        }
        buildIndex()
    }

    /// Indexes the entries by the field most of them have a key on, when enough do.
    private func buildIndex() {
        indexField = nil
        indexPositions.removeAll()
        indexOthers.removeAll()
        var counts: [PacketField: Int] = [:]
        for entry in entries {
            for field in Set(entry.keys.map(\.field)) where field.isIndexable { counts[field, default: 0] += 1 }
        }
        guard let (field, count) = counts.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key.rawValue > $1.key.rawValue) }),
              count >= Self.indexThreshold else { return }
        indexField = field
        for (position, entry) in entries.enumerated() {
            if let key = entry.keys.first(where: { $0.field == field }) {
                indexPositions[key.key, default: []].append(position)
            } else {
                indexOthers.append(position)
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
