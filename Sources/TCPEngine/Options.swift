import Packets

/// The options of a received segment, read in one walk over the checked option bytes.
struct ReceivedOptions {
    var mss: UInt16?
    var windowScale: UInt8?
    var sackPermitted = false
    var timestamp: (value: UInt32, echo: UInt32)?
    /// The SACK option's blocks (RFC 2018: at most four fit): where they start in the
    /// segment's option bytes and how many there are (see `Segment.sackBlock`).
    var sackBlocksAt = 0
    var sackBlockCount = 0

    init(_ segment: TCPPacket) {
        let bytes = segment.options
        var at = 0
        while at < bytes.count {
            let kind = bytes[at]
            if kind == TCPOptionKind.end { break }
            if kind == TCPOptionKind.noOperation {
                at += 1
                continue
            }
            guard at + 1 < bytes.count else { break }
            let length = Int(bytes[at + 1])
            guard length >= 2, at + length <= bytes.count else { break }
            switch (kind, length) {
            case (TCPOptionKind.maximumSegmentSize, 4):
                mss = UInt16(bytes[at + 2]) << 8 | UInt16(bytes[at + 3])
            case (TCPOptionKind.windowScale, 3):
                windowScale = bytes[at + 2]
            case (TCPOptionKind.sackPermitted, 2):
                sackPermitted = true
            case (TCPOptionKind.timestamps, 10):
                timestamp = (bytes.loadBigEndianU32(at + 2), bytes.loadBigEndianU32(at + 6))
            case (TCPOptionKind.sack, _) where length >= 10 && (length - 2) % 8 == 0:
                sackBlocksAt = at + 2
                sackBlockCount = Swift.min((length - 2) / 8, 4)
            default:
                break
            }
            at += length
        }
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBigEndianU32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// One SACK block (RFC 2018): the sequence numbers of the first byte held and of the byte
/// after the last.
public struct TCPSACKBlock: Hashable, Sendable {
    public var left: UInt32
    public var right: UInt32
}

/// The options of an outgoing segment, held inline (no array): what the engine sends is
/// MSS, window scale and SACK-permitted on SYNs, timestamps, and up to four SACK blocks.
public struct TCPOutgoingOptions: Hashable, Sendable {
    public var mss: UInt16?
    public var windowScale: UInt8?
    public var sackPermitted = false
    public var timestamp: (value: UInt32, echo: UInt32)? {
        get { hasTimestamp ? (timestampValue, timestampEcho) : nil }
        set {
            hasTimestamp = newValue != nil
            timestampValue = newValue?.value ?? 0
            timestampEcho = newValue?.echo ?? 0
        }
    }
    var hasTimestamp = false
    var timestampValue: UInt32 = 0
    var timestampEcho: UInt32 = 0
    var blocks: (TCPSACKBlock, TCPSACKBlock, TCPSACKBlock, TCPSACKBlock) = (.init(left: 0, right: 0), .init(left: 0, right: 0), .init(left: 0, right: 0), .init(left: 0, right: 0))
    public private(set) var sackBlockCount = 0

    public init() {}

    public static func == (a: TCPOutgoingOptions, b: TCPOutgoingOptions) -> Bool {
        guard a.mss == b.mss, a.windowScale == b.windowScale, a.sackPermitted == b.sackPermitted,
              a.hasTimestamp == b.hasTimestamp, a.timestampValue == b.timestampValue,
              a.timestampEcho == b.timestampEcho, a.sackBlockCount == b.sackBlockCount else { return false }
        return (0..<a.sackBlockCount).allSatisfy { a.sackBlock($0) == b.sackBlock($0) }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(mss)
        hasher.combine(sackBlockCount)
        hasher.combine(timestampValue)
    }

    public func sackBlock(_ index: Int) -> TCPSACKBlock {
        switch index {
        case 0: blocks.0
        case 1: blocks.1
        case 2: blocks.2
        default: blocks.3
        }
    }

    /// Adds a block if there is room for it in the 40 option bytes; false if not.
    @discardableResult
    public mutating func appendSACKBlock(_ block: TCPSACKBlock) -> Bool {
        guard sackBlockCount < 4, length + (sackBlockCount == 0 ? 12 : 8) <= 40 else { return false }
        switch sackBlockCount {
        case 0: blocks.0 = block
        case 1: blocks.1 = block
        case 2: blocks.2 = block
        default: blocks.3 = block
        }
        sackBlockCount += 1
        return true
    }

    /// Bytes the options take, padded to a multiple of four. The layout is Linux's:
    /// `mss, sackOK, TS, nop, wscale` on a SYN; `nop, nop, TS` and `nop, nop, sack` after.
    public var length: Int {
        var length = 0
        if mss != nil { length += 4 }
        if hasTimestamp { length += 12 } else if sackPermitted { length += 4 }
        if windowScale != nil { length += 4 }
        if sackBlockCount > 0 { length += 4 + 8 * sackBlockCount }
        return length
    }

    /// Writes the options at `start` (room checked by the caller); returns their length.
    /// (No nested functions: a captured `var` would be a heap box in a debug build.)
    func write(into buffer: UnsafeMutableRawBufferPointer, at start: Int) -> Int {
        var at = start
        if let mss {
            Self.put(buffer, &at, TCPOptionKind.maximumSegmentSize, 4, UInt8(mss >> 8), UInt8(truncatingIfNeeded: mss))
        }
        if hasTimestamp {
            if sackPermitted {
                Self.put(buffer, &at, TCPOptionKind.sackPermitted, 2, TCPOptionKind.timestamps, 10)
            } else {
                Self.put(buffer, &at, 1, 1, TCPOptionKind.timestamps, 10)
            }
            Self.put(buffer, &at, timestampValue)
            Self.put(buffer, &at, timestampEcho)
        } else if sackPermitted {
            Self.put(buffer, &at, 1, 1, TCPOptionKind.sackPermitted, 2)
        }
        if let windowScale {
            Self.put(buffer, &at, 1, TCPOptionKind.windowScale, 3, windowScale)
        }
        if sackBlockCount > 0 {
            Self.put(buffer, &at, 1, 1, TCPOptionKind.sack, UInt8(2 + 8 * sackBlockCount))
            for index in 0..<sackBlockCount {
                let block = sackBlock(index)
                Self.put(buffer, &at, block.left)
                Self.put(buffer, &at, block.right)
            }
        }
        return at - start
    }

    @inline(__always)
    private static func put(_ buffer: UnsafeMutableRawBufferPointer, _ at: inout Int, _ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        buffer.storeBytes(of: (UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)).bigEndian, toByteOffset: at, as: UInt32.self)
        at += 4
    }

    @inline(__always)
    private static func put(_ buffer: UnsafeMutableRawBufferPointer, _ at: inout Int, _ word: UInt32) {
        buffer.storeBytes(of: word.bigEndian, toByteOffset: at, as: UInt32.self)
        at += 4
    }
}
