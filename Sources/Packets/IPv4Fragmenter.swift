/// Splits an IPv4 datagram longer than a link's MTU into fragments (RFC 791 section 3.2,
/// RFC 815's offsets in 8-byte units). Each fragment is built in a caller's scratch buffer
/// behind a copy of the frame's link header, and handed to `emit` before the next is
/// built: nothing is allocated.
public enum IPv4Fragmenter {
    public enum Outcome: Equatable, Sendable {
        /// The datagram fits the MTU as it is (or the bytes are not an IPv4 datagram):
        /// write it unchanged.
        case fits
        /// It was sent as this many fragments.
        case fragmented(Int)
        /// It is too big and its Don't Fragment bit is set (or the MTU leaves no room for
        /// 8 bytes of data): not sent.
        case tooBigDontFragment
        /// `emit` returned false for a fragment: the rest were not sent.
        case stopped
    }

    /// Fragments the IPv4 datagram at `networkOffset` of `frame` (the bytes before it, an
    /// Ethernet header or nothing on tun, are repeated in front of every fragment) so that
    /// no fragment's IP datagram exceeds `mtu`. Fragments of a datagram that is itself a
    /// fragment keep its offset and its More Fragments bit on the last one. Options not
    /// marked "copied" go only in the first fragment. An identification of 0 is replaced
    /// by `identification` so the peer cannot mix up two of our datagrams.
    /// `scratch` must hold `networkOffset + mtu` bytes.
    public static func fragment(_ frame: UnsafeRawBufferPointer, networkOffset: Int, mtu: Int,
                                identification: UInt16, scratch: UnsafeMutableRawBufferPointer,
                                emit: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        guard networkOffset >= 0, frame.count >= networkOffset + IPv4Field.headerLength else { return .fits }
        let datagram = frame.slice(networkOffset, frame.count)
        guard datagram.u8(0) >> 4 == 4 else { return .fits }
        let headerLength = Int(datagram.u8(0) & 0x0f) * 4
        let totalLength = Int(datagram.u16(IPv4Field.totalLength))
        guard headerLength >= IPv4Field.headerLength, totalLength >= headerLength, totalLength <= datagram.count,
              totalLength > mtu
        else { return .fits }
        let flagsAndOffset = datagram.u16(IPv4Field.flagsAndFragmentOffset)
        guard flagsAndOffset & 0x4000 == 0 else { return .tooBigDontFragment }
        let laterHeaderLength = IPv4Field.headerLength + copiedOptionsLength(datagram.slice(IPv4Field.headerLength, headerLength))
        // Data per fragment: a multiple of 8 that fits beside the longer (first) header.
        let dataPerFragment = (mtu - headerLength) & ~7
        guard dataPerFragment >= 8, laterHeaderLength <= headerLength, scratch.count >= networkOffset + mtu else {
            return .tooBigDontFragment
        }
        let id = datagram.u16(IPv4Field.identification) == 0 ? identification : datagram.u16(IPv4Field.identification)
        let baseOffset = Int(flagsAndOffset & 0x1fff) * 8
        let lastHasMoreFragments = flagsAndOffset & 0x2000 != 0
        let data = datagram.slice(headerLength, totalLength)
        scratch.copy(frame.slice(0, networkOffset), to: 0)

        var sent = 0
        var start = 0
        while start < data.count {
            let isFirst = start == 0
            let length = min(dataPerFragment, data.count - start)
            let isLast = start + length == data.count
            let header = scratch.slice(networkOffset, networkOffset + mtu)
            let thisHeaderLength: Int
            if isFirst {
                header.copy(datagram.slice(0, headerLength), to: 0)
                thisHeaderLength = headerLength
            } else {
                header.copy(datagram.slice(0, IPv4Field.headerLength), to: 0)
                thisHeaderLength = laterHeaderLength
                writeCopiedOptions(datagram.slice(IPv4Field.headerLength, headerLength), into: header)
                header.setU8(0, 0x40 | UInt8(thisHeaderLength / 4))
            }
            header.copy(data.slice(start, start + length), to: thisHeaderLength)
            let more = !isLast || lastHasMoreFragments
            header.setU16(IPv4Field.totalLength, UInt16(thisHeaderLength + length))
            header.setU16(IPv4Field.identification, id)
            header.setU16(IPv4Field.flagsAndFragmentOffset, (more ? 0x2000 : 0) | UInt16((baseOffset + start) / 8))
            header.setU16(IPv4Field.checksum, 0)
            header.setU16(IPv4Field.checksum, Checksum.compute(UnsafeRawBufferPointer(header.slice(0, thisHeaderLength))))
            guard emit(UnsafeRawBufferPointer(scratch.slice(0, networkOffset + thisHeaderLength + length))) else {
                return .stopped
            }
            sent += 1
            start += length
        }
        return .fragmented(sent)
    }

    /// The length, padded to 4, of the options whose "copied" bit (0x80) is set.
    static func copiedOptionsLength(_ options: UnsafeRawBufferPointer) -> Int {
        var length = 0
        forEachOption(options) { option in
            if option.u8(0) & 0x80 != 0 { length += option.count }
        }
        return (length + 3) & ~3
    }

    /// Writes the copied options after a 20-byte header, padded with End of Options.
    private static func writeCopiedOptions(_ options: UnsafeRawBufferPointer, into header: UnsafeMutableRawBufferPointer) {
        var offset = IPv4Field.headerLength
        forEachOption(options) { option in
            guard option.u8(0) & 0x80 != 0 else { return }
            header.copy(option, to: offset)
            offset += option.count
        }
        while offset % 4 != 0 {
            header.setU8(offset, 0)
            offset += 1
        }
    }

    /// Each option (type, length, data), stopping at End of Options or a length that
    /// does not fit; No Operation bytes are one-byte options.
    private static func forEachOption(_ options: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var offset = 0
        while offset < options.count {
            let type = options.u8(offset)
            if type == 0 { return }
            if type == 1 {
                body(options.slice(offset, offset + 1))
                offset += 1
                continue
            }
            guard offset + 1 < options.count else { return }
            let length = Int(options.u8(offset + 1))
            guard length >= 2, offset + length <= options.count else { return }
            body(options.slice(offset, offset + length))
            offset += length
        }
    }
}
