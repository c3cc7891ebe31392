import CPcap

/// A pcap-filter expression (`man 7 pcap-filter`) compiled once to BPF for one link
/// type, then run per packet in native code.
public final class PcapFilter {
    public let expression: String
    public let linkType: PcapLinkType
    private var program = bpf_program()

    public init(_ expression: String, linkType: PcapLinkType) throws(CaptureError) {
        guard let pcap = pcap_open_dead(linkType.dataLinkType, 262_144) else {
            throw .badFilter(expression: expression, linkType: linkType,
                             reason: "libpcap could not make a capture handle")
        }
        defer { pcap_close(pcap) }
        if pcap_compile(pcap, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .badFilter(expression: expression, linkType: linkType,
                             reason: String(cString: pcap_geterr(pcap)))
        }
        self.expression = expression
        self.linkType = linkType
    }

    deinit { pcap_freecode(&program) }

    /// Whether the packet (starting at its link-layer header) matches.
    @inline(__always)
    public func matches(_ packet: UnsafeRawBufferPointer) -> Bool {
        guard let base = packet.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return false }
        let length = UInt32(truncatingIfNeeded: packet.count)
        return bpf_filter(program.bf_insns, base, length, length) != 0
    }

    /// The compiled program (classic BPF, 8-byte `struct bpf_insn`s, the layout of the
    /// kernel's `struct sock_filter`), for a socket's kernel filter.
    public func withInstructions<Result>(_ body: (UnsafeRawPointer?, Int) -> Result) -> Result {
        body(UnsafeRawPointer(program.bf_insns), Int(program.bf_len))
    }

    public func matches(_ packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { matches($0) }
    }
}
