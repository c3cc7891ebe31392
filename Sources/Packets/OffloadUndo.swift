/// Turning what a device with offloads hands over into ordinary packets: a transport
/// checksum the kernel left partial (virtio-net's NEEDS_CSUM: the field holds the
/// pseudo-header sum, and the sum from `start` to the end of the datagram is still to be
/// taken), and a TCP super-segment (generic segmentation offload: one header, up to 64 KiB
/// of payload, to be cut into `segmentSize` pieces). The rules are the kernel's
/// (`tcp_gso_segment`, `skb_checksum_help`): every piece gets the header with its own
/// sequence number, IPv4 identification and length; CWR only on the first, FIN and PSH
/// only on the last; checksums complete.
public enum OffloadUndo {
    /// Completes the partial checksum at `start + offset` over `frame[start..<end]`;
    /// false (frame untouched) when the offsets do not fit. `udp`: a sum of 0 is sent as 0xffff.
    @discardableResult
    public static func completeChecksum(_ frame: UnsafeMutableRawBufferPointer, start: Int, offset: Int,
                                        end: Int, udp: Bool = false) -> Bool {
        guard start >= 0, offset >= 0, end <= frame.count, start + offset + 2 <= end else { return false }
        var checksum = ~Checksum.sum(UnsafeRawBufferPointer(rebasing: frame[start..<end]))
        if checksum == 0 && udp { checksum = 0xffff }
        frame.setU16(start + offset, checksum)
        return true
    }

    /// Cuts the TCP super-segment `frame` (decoded as `decoded`) into segments of at most
    /// `segmentSize` payload bytes, each built in `scratch` and handed to `each` (valid
    /// during that call). Returns false, calling nothing, when the frame is not an unfragmented
    /// TCP datagram or a piece would not fit `scratch`.
    @discardableResult
    public static func segmentTCP(_ frame: UnsafeRawBufferPointer, _ decoded: DecodedFrame, segmentSize: Int,
                                  into scratch: UnsafeMutableRawBufferPointer,
                                  each: (UnsafeRawBufferPointer) -> Void) -> Bool {
        guard decoded.has(.tcp), !decoded.isFragment, segmentSize > 0,
              let pseudoHeader = decoded.pseudoHeader(frame) else { return false }
        let network = decoded.networkOffset
        let transport = decoded.transportOffset
        let isIPv4 = decoded.has(.ip)
        let tcpHeaderLength = Int(frame.u8(transport + TCPField.dataOffsetAndFlags) >> 4) * 4
        let headersEnd = transport + tcpHeaderLength
        let end = decoded.networkEnd
        guard tcpHeaderLength >= TCPField.headerLength, headersEnd <= end, end <= frame.count,
              headersEnd + segmentSize <= scratch.count else { return false }
        let payloadLength = end - headersEnd
        let firstSequence = frame.u32(transport + TCPField.sequenceNumber)
        let flags = frame.u16(transport + TCPField.dataOffsetAndFlags)
        let firstID = isIPv4 ? frame.u16(network + IPv4Field.identification) : 0
        guard let base = scratch.baseAddress, let source = frame.baseAddress else { return false }
        base.copyMemory(from: source, byteCount: headersEnd)
        var at = 0
        var index = 0
        repeat {
            let length = min(segmentSize, payloadLength - at)
            let isLast = at + length >= payloadLength
            (base + headersEnd).copyMemory(from: source + headersEnd + at, byteCount: length)
            let segmentEnd = headersEnd + length
            if isIPv4 {
                scratch.setU16(network + IPv4Field.totalLength, UInt16(segmentEnd - network))
                scratch.setU16(network + IPv4Field.identification, firstID &+ UInt16(truncatingIfNeeded: index))
                scratch.setU16(network + IPv4Field.checksum, 0)
                let headerLength = Int(frame.u8(network) & 0x0f) * 4
                scratch.setU16(network + IPv4Field.checksum,
                               Checksum.compute(UnsafeRawBufferPointer(rebasing: scratch[network..<network + headerLength])))
            } else {
                scratch.setU16(network + IPv6Field.payloadLength, UInt16(segmentEnd - network - IPv6Field.headerLength))
            }
            var segmentFlags = flags
            if index > 0 { segmentFlags &= ~TCPFlags.cwr }
            if !isLast { segmentFlags &= ~(TCPFlags.fin | TCPFlags.psh) }
            scratch.setU16(transport + TCPField.dataOffsetAndFlags, segmentFlags)
            scratch.setU32(transport + TCPField.sequenceNumber, firstSequence &+ UInt32(truncatingIfNeeded: at))
            scratch.setU16(transport + TCPField.checksum, 0)
            let segment = UnsafeMutableRawBufferPointer(rebasing: scratch[transport..<segmentEnd])
            pseudoHeader.fillTransportChecksumIfZero(protocol: IPProtocol.tcp, segment: segment)
            each(UnsafeRawBufferPointer(rebasing: scratch[0..<segmentEnd]))
            at += length
            index += 1
        } while at < payloadLength
        return true
    }
}
