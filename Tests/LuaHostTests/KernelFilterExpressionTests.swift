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
        XCTAssertEqual(expression, "udp or (icmp[icmptype] == 8) or arp or vlan or ip6 proto 44 or ip6 proto 0")
        let filter = try PcapFilter(try XCTUnwrap(expression), linkType: .ethernet)
        XCTAssertTrue(filter.matches(Self.frame(ipProtocol: 17)), "UDP to any port passes: keys are the host's to match")
        XCTAssertFalse(filter.matches(Self.frame(ipProtocol: 6)), "TCP stays in the kernel")
        XCTAssertTrue(KernelFilters.expression(for: [], tcpActive: true)?.hasPrefix("tcp or arp") == true)
    }

    func testAHandlerThatWantsEveryFrameLeavesNoFilter() {
        for everything: HandlerSelector in [.layer(.frame, keys: []), .layer(.eth, keys: []), .unclaimed] {
            XCTAssertNil(KernelFilters.expression(for: [handlers([.layer(.arp, keys: []), everything])], tcpActive: false))
        }
    }

    /// An Ethernet + IPv4 frame of the given protocol, 20 bytes of payload.
    private static func frame(ipProtocol: UInt8) -> [UInt8] {
        var bytes: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]
        bytes += [0x45, 0, 0, 40, 0, 0, 0, 0, 64, ipProtocol, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]
        bytes += [UInt8](repeating: 0, count: 20)
        return bytes
    }
}
