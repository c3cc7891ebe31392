import Packets

/// A segment the engine sends, handed to the host's emit closure during `dispatch`. The
/// payload is one or two pieces of a connection's send buffer, valid during that call
/// only; `write(into:)` makes the TCP segment, and the host puts IP and link headers
/// around it.
public struct TCPOutgoingSegment {
    public var source: TCPEndpoint
    public var destination: TCPEndpoint
    public var seq: UInt32
    public var ack: UInt32
    /// `TCPFlags` bits.
    public var flags: UInt16
    public var window: UInt16
    public var options: TCPOutgoingOptions
    public var payload: (UnsafeRawBufferPointer, UnsafeRawBufferPointer)
    /// With a payload longer than this, a super-segment (TCPConfiguration.superSegmentBytes)
    /// for the device to cut into pieces of this much payload, each with this header (its
    /// own sequence number; FIN and PSH on the last only). 0: an ordinary segment.
    public var segmentSize = 0

    public init(source: TCPEndpoint, destination: TCPEndpoint, seq: UInt32, ack: UInt32, flags: UInt16,
                window: UInt16, options: TCPOutgoingOptions = .init(),
                payload: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) = (.init(start: nil, count: 0), .init(start: nil, count: 0))) {
        self.source = source
        self.destination = destination
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.options = options
        self.payload = payload
    }

    public var payloadLength: Int { payload.0.count + payload.1.count }
    public var isSuperSegment: Bool { segmentSize > 0 && payloadLength > segmentSize }
    public var headerLength: Int { TCPField.headerLength + options.length }
    /// Bytes `write(into:)` needs: header, options and payload.
    public var length: Int { headerLength + payloadLength }

    /// The sequence space the segment takes: payload, plus one each for SYN and FIN.
    public var sequenceLength: Int {
        payloadLength + (flags & TCPFlags.syn != 0 ? 1 : 0) + (flags & TCPFlags.fin != 0 ? 1 : 0)
    }

    public var pseudoHeader: IPPseudoHeader? {
        TCPFourTuple(local: source, remote: destination).outgoingPseudoHeader
    }

    /// Writes the whole segment with its checksum (over the IPv4 or IPv6 pseudo-header) at
    /// the start of `buffer`; returns its length, or 0 if the buffer is too small.
    /// `partialChecksum`: the checksum field holds only the pseudo-header's sum (not
    /// inverted), for a device that finishes it (virtio-net's NEEDS_CSUM; every piece of a
    /// super-segment gets its own).
    @discardableResult
    public func write(into buffer: UnsafeMutableRawBufferPointer, partialChecksum: Bool = false) -> Int {
        let length = length
        guard buffer.count >= length, let pseudoHeader else { return 0 }
        // The header through Packets (no options array: the engine writes its own after it).
        TCPRepr(sport: source.port, dport: destination.port, seq: seq, ack: ack, flags: flags, window: window)
            .emitFixedHeader(into: buffer, headerLength: headerLength)
        _ = options.write(into: buffer, at: TCPField.headerLength)
        var at = headerLength
        if let source = payload.0.baseAddress, let base = buffer.baseAddress {
            (base + at).copyMemory(from: source, byteCount: payload.0.count)
            at += payload.0.count
        }
        if let source = payload.1.baseAddress, let base = buffer.baseAddress {
            (base + at).copyMemory(from: source, byteCount: payload.1.count)
        }
        if partialChecksum {
            buffer.setU16(TCPField.checksum, pseudoHeader.sum(protocol: IPProtocol.tcp, length: length))
            return length
        }
        pseudoHeader.fillTransportChecksumIfZero(protocol: IPProtocol.tcp,
                                                 segment: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]))
        return length
    }
}
