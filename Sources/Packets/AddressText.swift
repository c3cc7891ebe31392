// Helpers shared by the address types' text forms: formatting writes ASCII into a caller's
// small buffer (no Foundation, no allocation), parsing walks UTF-8 bytes.

@inlinable @inline(__always)
func hexDigit(_ value: UInt8) -> UInt8 {
    let nibble = value & 0x0f
    return nibble < 10 ? 48 &+ nibble : 87 &+ nibble
}

/// Writes `value` in decimal at `out`, returns the bytes written (1...3).
@inlinable @inline(__always)
func writeDecimal(_ value: UInt8, to out: UnsafeMutablePointer<UInt8>) -> Int {
    if value >= 100 {
        out[0] = 48 &+ value / 100
        out[1] = 48 &+ (value / 10) % 10
        out[2] = 48 &+ value % 10
        return 3
    } else if value >= 10 {
        out[0] = 48 &+ value / 10
        out[1] = 48 &+ value % 10
        return 2
    }
    out[0] = 48 &+ value
    return 1
}

/// Writes `value` in lower-case hex without leading zeros, returns the bytes written (1...4).
@inlinable @inline(__always)
func writeHex16(_ value: UInt16, to out: UnsafeMutablePointer<UInt8>) -> Int {
    var count = 0
    var shift = 12
    var started = false
    while shift >= 0 {
        let nibble = UInt8(truncatingIfNeeded: value >> UInt16(shift)) & 0x0f
        if nibble != 0 || started || shift == 0 {
            out[count] = hexDigit(nibble)
            count += 1
            started = true
        }
        shift -= 4
    }
    return count
}

@inlinable @inline(__always)
func hexValue(_ ascii: UInt8) -> UInt8? {
    switch ascii {
    case 48...57: ascii - 48
    case 97...102: ascii - 87
    case 65...70: ascii - 55
    default: nil
    }
}

/// Parses a dotted-quad IPv4 address from `bytes[start..<end]`.
func parseDottedQuad(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt32? {
    var value: UInt32 = 0
    var part: UInt32 = 0
    var digits = 0
    var parts = 0
    var index = start
    while index <= end {
        if index == end || bytes[index] == 46 {  // '.'
            guard digits > 0, parts < 4 else { return nil }
            value = value << 8 | part
            parts += 1
            part = 0
            digits = 0
        } else {
            let ascii = bytes[index]
            guard ascii >= 48, ascii <= 57, digits < 3 else { return nil }
            part = part * 10 + UInt32(ascii - 48)
            guard part <= 255 else { return nil }
            digits += 1
        }
        index += 1
    }
    return parts == 4 ? value : nil
}

/// Makes a String of at most `capacity` ASCII bytes written by `body`.
@inlinable
func makeASCIIString(capacity: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) -> String {
    String(unsafeUninitializedCapacity: capacity) { buffer in
        guard let base = buffer.baseAddress else { return 0 }
        return body(base)
    }
}
