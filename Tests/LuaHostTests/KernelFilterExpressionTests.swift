import Capture
@testable import LuaHost
import XCTest

/// What a packet device's kernel filter is made of: the handlers' selectors as one
/// pcap-filter expression that passes every frame some handler may want (checked against
/// frames through libpcap's own matcher), or none when a handler wants them all.
final class KernelFilterExpressionTests: XCTestCase {
    private func handlers(_ selectors: [HandlerSelector]) -> [Handler] {
        selectors.enumerated().map {
            Handler(id: Int64($0.offset), selector: $0.element, definedAt: "test:1", functionReference: 0,
                    errorLogInterval: .seconds(10))
        }
    }

    func testLayersAndFiltersAreOredWithWhatTheHostItselfNeeds() throws {
        let expression = KernelFilters.expression(
            for: [handlers([.layer(.udp, keys: [HandlerKey(field: "dport", value: .integer(7))]),
                            .filter("icmp[icmptype] == 8")]),
                  handlers([.layer(.udp, keys: [])])],
            tcpActive: false)
        XCTAssertEqual(expression, "udp or (icmp[icmptype] == 8) or arp or ip6 proto 44 or ip6 proto 0 or ip6 proto 43 or ip6 proto 60")
        let filter = try PcapFilter(try XCTUnwrap(expression), linkType: .ethernet)
        XCTAssertTrue(filter.matches(Self.frame(ipProtocol: 17)), "UDP to any port passes: keys are the host's to match")
        XCTAssertFalse(filter.matches(Self.frame(ipProtocol: 6)), "TCP stays in the kernel")
        XCTAssertTrue(KernelFilters.expression(for: [], tcpActive: true)?.hasPrefix("tcp or arp") == true)
    }

    /// A UDP handler gets the IPv6 UDP datagrams the filter cannot see into: fragments and
    /// those behind extension headers. (libpcap's `vlan` shifts every test after it by four
    /// bytes, so a `vlan` among the parts made these tests look past a tag that untagged
    /// frames do not have.)
    func testIPv6FragmentsAndExtensionHeadersPassUntagged() throws {
        let expression = try XCTUnwrap(KernelFilters.expression(for: [handlers([.layer(.udp, keys: [])])],
                                                                 tcpActive: false))
        let filter = try PcapFilter(expression, linkType: .ethernet)
        for nextHeader: UInt8 in [44, 0, 43, 60] {
            XCTAssertTrue(filter.matches(Self.frame6(nextHeader: nextHeader)), "next header \(nextHeader) passes")
        }
        XCTAssertTrue(filter.matches(Self.frame6(nextHeader: 17)))
        XCTAssertFalse(filter.matches(Self.frame6(nextHeader: 6)), "TCP stays in the kernel")
    }

    /// The kernel takes a VLAN tag out of the frame before the socket filter runs (the
    /// device puts it back): no expression tests for a tag, so a `vlan` handler, or a
    /// filter naming `vlan`, takes every frame.
    func testAVLANHandlerLeavesNoFilter() {
        XCTAssertNil(KernelFilters.expression(for: [handlers([.layer(.udp, keys: []), .layer(.vlan, keys: [])])],
                                              tcpActive: false))
        XCTAssertNil(KernelFilters.expression(for: [handlers([.filter("vlan 10 and udp")])], tcpActive: false))
    }

    func testAHandlerThatWantsEveryFrameLeavesNoFilter() {
        for everything: HandlerSelector in [.layer(.frame, keys: []), .layer(.eth, keys: []), .unclaimed] {
            XCTAssertNil(KernelFilters.expression(for: [handlers([.layer(.arp, keys: []), everything])], tcpActive: false))
        }
    }

    /// An Ethernet + IPv6 frame with the given next header, 8 bytes of payload.
    private static func frame6(nextHeader: UInt8) -> [UInt8] {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd]
        bytes += [0x60, 0, 0, 0, 0, 8, nextHeader, 64]
        bytes += [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [1]
        bytes += [0x20, 0x01, 0, 2] + [UInt8](repeating: 0, count: 11) + [2]
        bytes += [UInt8](repeating: 0, count: 8)
        return bytes
    }

    /// An Ethernet + IPv4 frame of the given protocol, 20 bytes of payload.
    private static func frame(ipProtocol: UInt8) -> [UInt8] {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]
        bytes += [0x45, 0, 0, 40, 0, 0, 0, 0, 64, ipProtocol, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
        bytes += [UInt8](repeating: 0, count: 20)
        return bytes
    }
}
