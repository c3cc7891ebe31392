import Packets

/// The selector of the frames a NIC would not take: `not ether dst MAC and not ether
/// multicast`, which tapir.neighbours registers first in a pack so frames to another unicast
/// MAC reach none of its handlers. Every frame of the pack's devices is checked against it,
/// so it is recognised when the handler is registered and checked natively (two loads and
/// a compare) instead of by its BPF program in libpcap's interpreter; the answer is the
/// program's: false for a frame too short to hold a destination MAC.
struct ForeignFrames: Equatable {
    /// The MAC the frames are for: others, unless group addresses, match.
    let mac: MACAddress

    /// Recognises exactly the expression tapir.neighbours writes (any other is left to BPF).
    init?(expression: String) {
        let prefix = "not ether dst ", suffix = " and not ether multicast"
        guard expression.hasPrefix(prefix), expression.hasSuffix(suffix),
              expression.utf8.count == prefix.utf8.count + 17 + suffix.utf8.count else { return nil }
        let text = expression.dropFirst(prefix.count).prefix(17)
        guard let mac = MACAddress(String(text)) else { return nil }
        self.mac = mac
    }

    /// True for an Ethernet frame to a unicast MAC other than `mac`.
    @inline(__always)
    func matches(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard frame.count >= 6 else { return false }
        let destination = MACAddress(loading: frame, at: 0)
        return destination != mac && destination.value & (1 << 40) == 0
    }
}
