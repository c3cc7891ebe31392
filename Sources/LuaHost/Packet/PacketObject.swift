import CLua
import Packets

/// The packet object of one Lua state, and the state's `tapir.build` and `pkt:reply`.
///
/// One packet userdata is made at install and reused for every packet: `bind` points it at
/// a frame before the handlers run, `unbind` after (a packet used later raises "packet used
/// after its handler returned (use pkt:copy())"). Neither allocates. Pass `argument` as a
/// handler's argument while bound. Keep this object as long as the state is used: it holds
/// the state, and the state's C side calls back into it.
///
/// Loop thread only, like its LuaState.
public final class PacketObject {
    public let state: LuaState
    private var packet: UnsafeMutablePointer<clua_packet>?
    private var api: UnsafeMutablePointer<clua_packet_api>?
    /// The buffer builders and replies are written into, reused.
    let output = PacketOutput()
    /// IPv4 identification of the next reply.
    var nextReplyID: UInt16 = 1

    /// Installs the packet API into `state` (packet metatables, field names, tapir.build).
    public init(state: LuaState) throws(LuaError) {
        // The frame is copied into the packet's C block as plain bytes.
        precondition(_isPOD(DecodedFrame.self) && MemoryLayout<DecodedFrame>.size <= Int(CLUA_FRAME_STORAGE)
                     && MemoryLayout<DecodedFrame>.alignment <= 8, "DecodedFrame no longer fits a clua_packet")
        self.state = state

        let names: [clua_field_name] = PacketField.allCases.map { field in
            var name = clua_field_name()
            name.layer = field.layer.number
            name.field = field.rawValue
            name.name = UnsafeRawPointer(field.info.name.utf8Start).assumingMemoryBound(to: CChar.self)
            name.kind = field.info.kind.cKind
            name.readable = 1
            name.settable = field.info.settable ? 1 : 0
            name.direct = field.direct
            return name
        }
        var request = clua_packet_install_request()
        request.callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        request.callbacks.read_field = packetReadField
        request.callbacks.summary = packetSummary
        request.callbacks.parse = packetParseText
        request.callbacks.format_address = packetFormatAddress
        request.callbacks.build = packetBuild
        request.callbacks.reply = packetReply
        request.payload_field = PacketField.payload.rawValue
        request.malformed_field = PacketField.malformed.rawValue

        request.layer_count = Int32(Self.layerNames.count)
        request.frame_layer = PacketLayer.frame.number
        try Self.layerNames.withCStrings { (layerNames) throws(LuaError) in
            request.layer_names = layerNames
            try names.withUnsafeBufferPointer { (buffer) throws(LuaError) in
                request.names = buffer.baseAddress
                request.name_count = Int32(buffer.count)
                try withUnsafeMutablePointer(to: &request) { (pointer) throws(LuaError) in
                    try state.runProtected(clua_packet_install, context: pointer)
                }
            }
        }
        packet = request.packet
        api = request.api
    }

    /// The layers' names by number, from Packets' `Layers.names` (C copies them).
    static let layerNames: [String] = {
        var names = [String](repeating: "", count: Layers.names.map { $0.0.number + 1 }.max() ?? 0)
        for (layer, name) in Layers.names { names[layer.number] = name }
        return names
    }()

    deinit {
        if let packet { clua_packet_unbind(packet) }
        if let api { clua_packet_api_detach(api) }
    }

    /// Points the packet at `bytes`, decoded as `frame`, read from `device`. The bytes
    /// must stay valid until `unbind`.
    public func bind(_ bytes: UnsafeRawBufferPointer, frame: DecodedFrame, device: Int64 = 0) {
        guard let packet else { return }
        var frame = frame
        let (layers, network, transport) = (frame.layers.rawValue, frame.networkOffset, frame.transportOffset)
        withUnsafeBytes(of: &frame) { raw in
            clua_packet_bind(packet, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count,
                             layers, network, transport, raw.baseAddress, raw.count, device)
        }
    }

    /// Ends the packet's validity: Lua code still holding it gets an error.
    public func unbind() {
        guard let packet else { return }
        clua_packet_unbind(packet)
    }

    /// The packet's block, for the per-packet handler call (nil if the install failed).
    var block: UnsafePointer<clua_packet>? { packet.map { UnsafePointer($0) } }

    /// The packet as a handler argument (pushed in C, inside the protected call).
    public var argument: LuaArgument {
        .pushed(by: clua_packet_push, with: UnsafeRawPointer(packet))
    }

    /// Binds, runs body with the packet argument, unbinds.
    public func withPacket<R, E: Error>(_ bytes: UnsafeRawBufferPointer, frame: DecodedFrame, device: Int64 = 0,
                                        _ body: (LuaArgument) throws(E) -> R) throws(E) -> R {
        bind(bytes, frame: frame, device: device)
        defer { unbind() }
        return try body(argument)
    }
}

extension PacketField {
    /// Where C finds the field itself, when it is a plain big-endian value at a fixed place
    /// in its layer's header (clua_direct_field): C then reads it with no call into Swift.
    /// Every other field, and any whose bytes are not all there, is read by `read`, which
    /// gives the same values (DirectFieldTests).
    var direct: clua_direct_field {
        func at(_ base: clua_field_base, _ offset: Int, _ width: Int, shift: Int = 0,
                mask: UInt32 = 0xffff_ffff) -> clua_direct_field {
            clua_direct_field(base: UInt8(base.rawValue), width: UInt8(width), shift: UInt8(shift),
                              offset: UInt16(offset), mask: mask)
        }
        let network = CLUA_BASE_NETWORK, transport = CLUA_BASE_TRANSPORT
        switch self {
        case .ethDst: return at(CLUA_BASE_FRAME, 0, 6)
        case .ethSrc: return at(CLUA_BASE_FRAME, 6, 6)
        case .ipVersion: return at(network, 0, 1, shift: 4, mask: 0xf)
        case .ipIHL: return at(network, 0, 1, mask: 0xf)
        case .ipTOS: return at(network, 1, 1)
        case .ipLen: return at(network, 2, 2)
        case .ipID: return at(network, 4, 2)
        case .ipFlags: return at(network, 6, 2, shift: 13, mask: 0x7)
        case .ipDF: return at(network, 6, 2, shift: 14, mask: 0x1)
        case .ipMF: return at(network, 6, 2, shift: 13, mask: 0x1)
        case .ipFrag: return at(network, 6, 2, mask: 0x1fff)
        case .ipTTL: return at(network, 8, 1)
        case .ipProto: return at(network, 9, 1)
        case .ipChksum: return at(network, 10, 2)
        case .ipSrc: return at(network, 12, 4)
        case .ipDst: return at(network, 16, 4)
        case .ipv6Version: return at(network, 0, 1, shift: 4, mask: 0xf)
        case .ipv6TC: return at(network, 0, 4, shift: 20, mask: 0xff)
        case .ipv6Flow: return at(network, 0, 4, mask: 0xf_ffff)
        case .ipv6Plen: return at(network, 4, 2)
        case .ipv6Hlim: return at(network, 7, 1)
        case .ipv6Src: return at(network, 8, 16)
        case .ipv6Dst: return at(network, 24, 16)
        case .icmpType, .icmpv6Type: return at(transport, 0, 1)
        case .icmpCode, .icmpv6Code: return at(transport, 1, 1)
        case .icmpChksum, .icmpv6Chksum: return at(transport, 2, 2)
        case .udpSport, .tcpSport: return at(transport, 0, 2)
        case .udpDport, .tcpDport: return at(transport, 2, 2)
        case .udpLen: return at(transport, 4, 2)
        case .udpChksum: return at(transport, 6, 2)
        case .tcpSeq: return at(transport, 4, 4)
        case .tcpAck: return at(transport, 8, 4)
        case .tcpDataofs: return at(transport, 12, 1, shift: 4, mask: 0xf)
        case .tcpWindow: return at(transport, 14, 2)
        case .tcpChksum: return at(transport, 16, 2)
        case .tcpUrgptr: return at(transport, 18, 2)
        default: return clua_direct_field()
        }
    }
}

extension PacketFieldKind {
    /// The kind a settable field of C's `kind` takes (text has none: it is read only).
    init?(cKind: clua_field_kind) {
        switch cKind {
        case CLUA_FIELD_INTEGER: self = .integer
        case CLUA_FIELD_BOOLEAN: self = .boolean
        case CLUA_FIELD_MAC: self = .mac
        case CLUA_FIELD_IPV4: self = .ipv4
        case CLUA_FIELD_IPV6: self = .ipv6
        case CLUA_FIELD_BYTES: self = .bytes
        case CLUA_FIELD_TCP_FLAGS: self = .tcpFlags
        default: return nil
        }
    }

    var cKind: clua_field_kind {
        switch self {
        case .integer, .text: CLUA_FIELD_INTEGER
        case .boolean: CLUA_FIELD_BOOLEAN
        case .mac: CLUA_FIELD_MAC
        case .ipv4: CLUA_FIELD_IPV4
        case .ipv6: CLUA_FIELD_IPV6
        case .bytes: CLUA_FIELD_BYTES
        case .tcpFlags: CLUA_FIELD_TCP_FLAGS
        }
    }
}

// MARK: The C callbacks: plain values in and out, never the Lua state.

private func object(_ context: UnsafeMutableRawPointer?) -> PacketObject? {
    guard let context else { return nil }
    return Unmanaged<PacketObject>.fromOpaque(context).takeUnretainedValue()
}

/// The frame and bytes a packet block holds.
func contents(of packet: UnsafePointer<clua_packet>) -> (bytes: UnsafeRawBufferPointer, frame: DecodedFrame) {
    let frame = clua_packet_frame(packet).load(as: DecodedFrame.self)
    let bytes = UnsafeRawBufferPointer(start: packet.pointee.bytes, count: packet.pointee.length)
    return (bytes, frame)
}

private func packetReadField(context: UnsafeMutableRawPointer?, packet: UnsafePointer<clua_packet>?,
                             field: Int32, out: UnsafeMutablePointer<clua_field_value>?) {
    guard let out else { return }
    out.pointee.kind = CLUA_VALUE_NIL
    guard let packet, let field = PacketField(rawValue: field) else { return }
    let (bytes, frame) = contents(of: packet)
    out.fill(with: field.read(bytes: bytes, frame: frame))
}

private func packetSummary(context: UnsafeMutableRawPointer?, packet: UnsafePointer<clua_packet>?,
                           buffer: UnsafeMutablePointer<CChar>?, capacity: Int) -> Int {
    guard let packet, let buffer else { return 0 }
    let (bytes, frame) = contents(of: packet)
    return copyText(frame.summary(bytes), into: buffer, capacity: capacity)
}

private func packetParseText(context: UnsafeMutableRawPointer?, kind: Int32, text: UnsafePointer<CChar>?, length: Int,
                             out: UnsafeMutablePointer<clua_set_value>?) -> Int32 {
    guard let out, let kind = PacketFieldKind(cKind: clua_field_kind(rawValue: UInt32(bitPattern: kind))) else { return 0 }
    switch kind.parse(UnsafeRawBufferPointer(start: text, count: text == nil ? 0 : length)) {
    case .mac(let address)?: out.storeAddress { address.store(into: $0, at: 0) }
    case .ipv4(let address)?: out.storeAddress { address.store(into: $0, at: 0) }
    case .ipv6(let address)?: out.storeAddress { address.store(into: $0, at: 0) }
    case .integer(let flags)?: out.pointee.integer = lua_Integer(flags)
    case .boolean?, .bytes?, nil: return 0
    }
    return 1
}

/// The text of an address C read as bytes (6: MAC, 4: IPv4, 16: IPv6).
private func packetFormatAddress(context: UnsafeMutableRawPointer?, bytes: UnsafePointer<UInt8>?, length: Int,
                                 text: UnsafeMutablePointer<CChar>?) -> Int {
    guard let bytes, let text else { return 0 }
    let raw = UnsafeRawBufferPointer(start: bytes, count: length)
    return text.withMemoryRebound(to: UInt8.self, capacity: Int(CLUA_TEXT_CAPACITY)) { out in
        switch length {
        case 6: MACAddress(loading: raw, at: 0).formatted(into: out)
        case 4: IPv4Address(loading: raw, at: 0).formatted(into: out)
        case 16: IPv6Address(loading: raw, at: 0).formatted(into: out)
        default: 0
        }
    }
}

extension UnsafeMutablePointer where Pointee == clua_set_value {
    fileprivate func storeAddress(_ store: (UnsafeMutableRawBufferPointer) -> Void) {
        withUnsafeMutableBytes(of: &pointee.address) { store($0) }
    }
}

private func packetBuild(context: UnsafeMutableRawPointer?, layer: Int32, values: UnsafePointer<clua_set_value>?,
                         bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, length: UnsafeMutablePointer<Int>?,
                         error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let object = object(context), let values, let packetLayer = PacketLayer(number: layer) else { return -1 }
    let result = object.output.build(packetLayer, SetValues(values, inReply: false))
    return finish(result, bytes, length, error)
}

private func packetReply(context: UnsafeMutableRawPointer?, packet: UnsafePointer<clua_packet>?,
                         values: UnsafePointer<clua_set_value>?, setFields: UnsafePointer<Int32>?, setCount: Int32,
                         bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                         length: UnsafeMutablePointer<Int>?, error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let context, let packet, let values else { return -1 }
    let (frameBytes, frame) = contents(of: packet)
    let given = UnsafeBufferPointer(start: setFields, count: setFields == nil ? 0 : Int(max(setCount, 0)))
    // The state holds the object for as long as a handler runs: no retain for the call
    // (on the per-packet path a retain and release pair costs as much as a field read).
    let result = Unmanaged<PacketObject>.fromOpaque(context)._withUnsafeGuaranteedRef { object in
        let id = object.nextReplyID
        object.nextReplyID &+= 1
        return object.output.reply(to: frameBytes, frame: frame, SetValues(values, inReply: true, given: given),
                                   ipv4ID: id)
    }
    return finish(result, bytes, length, error)
}

private func finish(_ result: Result<UnsafeRawBufferPointer, PacketBuildError>,
                    _ bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ length: UnsafeMutablePointer<Int>?,
                    _ error: UnsafeMutablePointer<CChar>?) -> Int32 {
    switch result {
    case .success(let output):
        bytes?.pointee = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        length?.pointee = output.count
        return 0
    case .failure(let failure):
        if let error { _ = copyText(failure.message, into: error, capacity: Int(CLUA_ERROR_CAPACITY) - 1, terminate: true) }
        return -1
    }
}

/// Copies UTF-8 text into a C buffer; returns the bytes copied (not counting a terminator).
@discardableResult
func copyText(_ text: String, into buffer: UnsafeMutablePointer<CChar>, capacity: Int, terminate: Bool = false) -> Int {
    var count = 0
    for byte in text.utf8 where count < capacity {
        buffer[count] = CChar(bitPattern: byte)
        count += 1
    }
    if terminate { buffer[count] = 0 }
    return count
}

extension UnsafeMutablePointer where Pointee == clua_field_value {
    /// Stores a field value for C to push.
    func fill(with value: PacketFieldValue) {
        switch value {
        case .none:
            pointee.kind = CLUA_VALUE_NIL
        case .integer(let integer):
            pointee.kind = CLUA_VALUE_INTEGER
            pointee.integer = lua_Integer(integer)
        case .boolean(let flag):
            pointee.kind = CLUA_VALUE_BOOLEAN
            pointee.integer = flag ? 1 : 0
        case .mac(let address):
            writeAddress(count: 6) { address.store(into: $0, at: 0) }
        case .ipv4(let address):
            writeAddress(count: 4) { address.store(into: $0, at: 0) }
        case .ipv6(let address):
            writeAddress(count: 16) { address.store(into: $0, at: 0) }
        case .tcpFlagText(let flags):
            writeText { TCPFlagLetters.write(flags, into: $0) }
        case .bytes(let range):
            pointee.kind = CLUA_VALUE_BYTES
            pointee.offset = range.lowerBound
            pointee.length = range.count
        case .malformed(let layer, let reason):
            // Rare (a malformed frame's reason was asked for): a String is fine here.
            let text = "\(layer): \(reason)"
            writeText { out in
                out.withMemoryRebound(to: CChar.self, capacity: Int(CLUA_TEXT_CAPACITY)) {
                    copyText(text, into: $0, capacity: Int(CLUA_TEXT_CAPACITY))
                }
            }
        }
    }

    /// An address as its bytes: C pushes its text from the state's cache, or asks
    /// packetFormatAddress for it.
    private func writeAddress(count: Int, _ store: (UnsafeMutableRawBufferPointer) -> Void) {
        withUnsafeMutableBytes(of: &pointee.address) { store($0) }
        pointee.kind = CLUA_VALUE_ADDRESS
        pointee.length = count
    }

    private func writeText(_ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let length = withUnsafeMutableBytes(of: &pointee.text) { raw in
            body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        pointee.kind = CLUA_VALUE_TEXT
        pointee.length = length
    }
}

extension Array where Element == String {
    /// Runs body with the strings as an array of C strings, valid during body.
    func withCStrings<R, E: Error>(_ body: (UnsafePointer<UnsafePointer<CChar>?>) throws(E) -> R) throws(E) -> R {
        var storage: [CChar] = []
        var offsets: [Int] = []
        for string in self {
            offsets.append(storage.count)
            storage.append(contentsOf: string.utf8.map { CChar(bitPattern: $0) })
            storage.append(0)
        }
        return try storage.withUnsafeBufferPointer { (characters) throws(E) -> R in
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in characters.baseAddress.map { $0 + offset } }
            return try pointers.withUnsafeBufferPointer { (buffer) throws(E) -> R in try body(buffer.baseAddress!) }
        }
    }
}
