import Devices
import Foundation
import XCTest

/// scripts/two-machines: two namespaces standing in for two machines, joined by a veth
/// underlay and a kernel VXLAN device on each, a tapir switch on each side serving a
/// local tap and the VXLAN device as a packet device; the hosts ping each other and fetch
/// over TCP, and the script checks that everything is gone after.
final class TwoMachinesKernelTests: XCTestCase {
    func testHostsOnTwoMachinesReachEachOtherThroughVXLANAndNothingIsLeft() throws {
        try TapirCommand.requireRoot()
        let script = TapirCommand.repository.appendingPathComponent("scripts/two-machines").path
        let run = try ChildProcess.run(["env", "TAPIR=\(TapirCommand.path)", script], timeout: .seconds(120))
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        for check in ["ok: h1 pings h2", "ok: h2 pings h1", "ok: h1 pings h2 over IPv6",
                      "ok: h1 fetches 1 MiB from h2 over TCP", "the namespaces and devices are gone"] {
            XCTAssertTrue(run.stdout.contains(check), "missing '\(check)':\n\(run.stdout)\(run.stderr)")
        }
    }
}
