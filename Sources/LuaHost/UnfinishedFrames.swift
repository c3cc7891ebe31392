import Devices
import Packets

/// Makes what a tap with offloads hands over into ordinary packets (OffloadUndo): a
/// super-segment is cut at its `gsoSize`, a partial checksum is completed. Loop thread only.
final class UnfinishedFrames {
    /// Where the pieces of a super-segment are built, one at a time.
    private let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: ReadBuffer.size + 64, alignment: 16)
    /// Super-segments cut, and frames that could not be finished (handed on as they are).
    private(set) var superSegmentsCut = 0
    private(set) var unfinishable = 0

    deinit { scratch.deallocate() }

    /// Hands `bytes` to `deliver` as one or more ordinary packets. `bytes` is the read
    /// buffer (the host's own, writable): a checksum is completed in place.
    func finishing(_ bytes: UnsafeRawBufferPointer, _ frame: DecodedFrame, _ offload: VirtioNetHeader,
                   deliver: (UnsafeRawBufferPointer) -> Void) {
        if offload.isSuperSegment, frame.has(.tcp), offload.gsoSize > 0,
           OffloadUndo.segmentTCP(bytes, frame, segmentSize: Int(offload.gsoSize), into: scratch, each: deliver) {
            superSegmentsCut += 1
            return
        }
        if offload.needsChecksum {
            let end = frame.networkEnd > 0 ? frame.networkEnd : bytes.count
            let writable = UnsafeMutableRawBufferPointer(mutating: bytes)
            if !OffloadUndo.completeChecksum(writable, start: Int(offload.checksumStart), offset: Int(offload.checksumOffset),
                                             end: end, udp: frame.has(.udp)) {
                unfinishable += 1
            }
        } else if offload.isSuperSegment {
            unfinishable += 1
        }
        deliver(bytes)
    }
}
