/// The header a tap opened with IFF_VNET_HDR puts before every frame, both ways
/// (`struct virtio_net_hdr`, include/uapi/linux/virtio_net.h; 10 bytes, native byte order
/// on a little-endian host, as tun uses unless TUNSETVNETBE says otherwise).
/// From the kernel: `needsChecksum` means the transport checksum is partial (the pseudo-
/// header sum at `checksumStart + checksumOffset`); a `gsoType` other than `.none` means
/// a super-segment to be cut into `gsoSize`-byte payloads. To the kernel: the same fields
/// ask it to finish the checksum or to segment; all zero is an ordinary frame.
public struct VirtioNetHeader: Equatable, Sendable {
    public static let size = 10

    // flags
    public static let needsChecksumFlag: UInt8 = 1
    public static let dataValidFlag: UInt8 = 2
    // gso_type
    public static let gsoNone: UInt8 = 0
    public static let gsoTCPv4: UInt8 = 1
    public static let gsoUDP: UInt8 = 3
    public static let gsoTCPv6: UInt8 = 4
    public static let gsoUDPL4: UInt8 = 5
    public static let gsoECN: UInt8 = 0x80

    public var flags: UInt8 = 0
    public var gsoType: UInt8 = 0
    /// Bytes of headers (Ethernet, IP, TCP) before the payload; a hint.
    public var headerLength: UInt16 = 0
    public var gsoSize: UInt16 = 0
    public var checksumStart: UInt16 = 0
    public var checksumOffset: UInt16 = 0

    public init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
                checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    public init(loading bytes: UnsafeRawPointer) {
        flags = bytes.load(fromByteOffset: 0, as: UInt8.self)
        gsoType = bytes.load(fromByteOffset: 1, as: UInt8.self)
        headerLength = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        gsoSize = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        checksumStart = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        checksumOffset = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
    }

    public func store(to bytes: UnsafeMutableRawPointer) {
        bytes.storeBytes(of: flags, toByteOffset: 0, as: UInt8.self)
        bytes.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        bytes.storeBytes(of: headerLength.littleEndian, toByteOffset: 2, as: UInt16.self)
        bytes.storeBytes(of: gsoSize.littleEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: checksumStart.littleEndian, toByteOffset: 6, as: UInt16.self)
        bytes.storeBytes(of: checksumOffset.littleEndian, toByteOffset: 8, as: UInt16.self)
    }

    public var needsChecksum: Bool { flags & Self.needsChecksumFlag != 0 }
    /// The segmentation asked for, ECN bit aside.
    public var segmentation: UInt8 { gsoType & ~Self.gsoECN }
    public var isSuperSegment: Bool { segmentation != Self.gsoNone }
    /// True when the frame is not yet an ordinary packet.
    public var needsWork: Bool { needsChecksum || isSuperSegment }
}
