// Big-endian field access at any alignment: the one byte access of the project (views,
// emitters, and the Lua builders' payload placement use it). Views call these only after
// their constructor has checked that the offsets are inside the buffer; other callers
// check the room first.

extension UnsafeRawBufferPointer {
    @inlinable @inline(__always)
    public func u8(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    public func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    public func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The bytes from `start` to `end`, clamped to the buffer (never traps).
    @inlinable @inline(__always)
    public func slice(_ start: Int, _ end: Int) -> UnsafeRawBufferPointer {
        let lower = Swift.min(Swift.max(start, 0), count)
        let upper = Swift.min(Swift.max(end, lower), count)
        return UnsafeRawBufferPointer(rebasing: self[lower..<upper])
    }
}

extension UnsafeMutableRawBufferPointer {
    /// The bytes from `start` to `end`, clamped to the buffer (never traps).
    @inlinable
    public func slice(_ start: Int, _ end: Int) -> UnsafeMutableRawBufferPointer {
        let lower = Swift.min(Swift.max(start, 0), count)
        let upper = Swift.min(Swift.max(end, lower), count)
        return UnsafeMutableRawBufferPointer(rebasing: self[lower..<upper])
    }

    @inlinable @inline(__always)
    public func setU8(_ offset: Int, _ value: UInt8) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    public func setU16(_ offset: Int, _ value: UInt16) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    public func setU32(_ offset: Int, _ value: UInt32) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    /// Copies `bytes` in at `offset`; the caller has checked the room.
    @inlinable
    public func copy(_ bytes: [UInt8], to offset: Int) {
        bytes.withUnsafeBytes { source in
            guard let base = source.baseAddress, let destination = baseAddress else { return }
            (destination + offset).copyMemory(from: base, byteCount: source.count)
        }
    }

    @inlinable
    public func copy(_ bytes: UnsafeRawBufferPointer, to offset: Int) {
        guard let base = bytes.baseAddress, let destination = baseAddress else { return }
        (destination + offset).copyMemory(from: base, byteCount: bytes.count)
    }

    @inlinable
    public func zero(_ offset: Int, _ count: Int) {
        guard count > 0, let destination = baseAddress else { return }
        (destination + offset).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }
}

/// Emits a representation into a new array of exactly `length` bytes.
@inlinable
func emitToArray(_ length: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
        let raw = UnsafeMutableRawBufferPointer(buffer)
        raw.zero(0, length)
        body(raw)
        initialized = length
    }
}
