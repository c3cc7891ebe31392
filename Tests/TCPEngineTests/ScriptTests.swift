import Foundation
import XCTest

/// One test per script in Scripts/ (the files say what each covers).
final class ScriptTests: XCTestCase {
    static var scriptsFolder: URL { Bundle.module.url(forResource: "Scripts", withExtension: nil)! }

    func run(_ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let url = Self.scriptsFolder.appendingPathComponent(name + ".pkt")
        do {
            let text = try String(contentsOf: url, encoding: .utf8)
            try ScriptRunner(script: try Script(text), name: name).run()
        } catch {
            XCTFail("\(name).pkt \(error)", file: file, line: line)
        }
    }

    /// Scripts that have a test method below.
    static let tested: Set<String> = [
        "abort",
        "active-open",
        "buffer-growth",
        "challenge-ack",
        "close-active",
        "close-orphan",
        "close-passive",
        "close-unread",
        "delayed-ack",
        "fast-retransmit",
        "handshake-loss",
        "ipv6",
        "limits",
        "listener-close",
        "nagle",
        "options-defaults",
        "options-mtu",
        "passive-open",
        "reassembly-sack",
        "reorder-overlap-fin",
        "restart-after-idle",
        "retransmission-give-up",
        "retransmission-timeout",
        "rst-listen",
        "rst-simultaneous-open",
        "rst-syn-received",
        "rst-syn-sent",
        "rst-synchronized",
        "rst-window-edge",
        "sack-bogus-blocks",
        "sack-limits",
        "sack-lost-retransmission",
        "sack-renege-timeout",
        "sack-super-segment-hole",
        "sack-tail-loss-probe",
        "sack-tail-loss-probe-segments",
        "sack-two-holes",
        "super-segments",
        "super-segments-no-sack",
        "simultaneous-close",
        "simultaneous-open",
        "slow-start-byte-counting",
        "syn-cookies",
        "time-wait-reuse",
        "timestamps",
        "window-edge-ack",
        "window-full-buffer",
        "window-reservation-fin",
        "window-scale-edge",
        "window-shared-budget",
        "zero-window-fin",
        "zero-window-receive",
        "zero-window-send",
    ]

    /// A script without a test method below is run here, so none is skipped silently.
    func testScriptsWithoutOwnTest() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.scriptsFolder.path)
            .filter { $0.hasSuffix(".pkt") }.map { String($0.dropLast(4)) }
        XCTAssertFalse(names.isEmpty)
        for name in names.sorted() where !Self.tested.contains(name) { run(name) }
    }

    func testAbort() { run("abort") }
    func testAbortAfterTimeout() { run("abort-after-timeout") }
    func testActiveOpen() { run("active-open") }
    func testBufferGrowth() { run("buffer-growth") }
    func testChallengeAck() { run("challenge-ack") }
    func testCloseActive() { run("close-active") }
    func testCloseOrphan() { run("close-orphan") }
    func testClosePassive() { run("close-passive") }
    func testCloseUnread() { run("close-unread") }
    func testDelayedAck() { run("delayed-ack") }
    func testFastRetransmit() { run("fast-retransmit") }
    func testHandshakeLoss() { run("handshake-loss") }
    func testIpv6() { run("ipv6") }
    func testLimits() { run("limits") }
    func testListenerClose() { run("listener-close") }
    func testNagle() { run("nagle") }
    func testOptionsDefaults() { run("options-defaults") }
    func testOptionsMtu() { run("options-mtu") }
    func testPassiveOpen() { run("passive-open") }
    func testReassemblySack() { run("reassembly-sack") }
    func testReorderOverlapFin() { run("reorder-overlap-fin") }
    func testRestartAfterIdle() { run("restart-after-idle") }
    func testRetransmissionGiveUp() { run("retransmission-give-up") }
    func testRetransmissionTimeout() { run("retransmission-timeout") }
    func testRstListen() { run("rst-listen") }
    func testRstSimultaneousOpen() { run("rst-simultaneous-open") }
    func testRstSynReceived() { run("rst-syn-received") }
    func testRstSynSent() { run("rst-syn-sent") }
    func testRstSynchronized() { run("rst-synchronized") }
    func testRstWindowEdge() { run("rst-window-edge") }
    func testSackBogusBlocks() { run("sack-bogus-blocks") }
    func testSackLimits() { run("sack-limits") }
    func testSackLostRetransmission() { run("sack-lost-retransmission") }
    func testSackRenegeTimeout() { run("sack-renege-timeout") }
    func testSackSuperSegmentHole() { run("sack-super-segment-hole") }
    func testSackTailLossProbe() { run("sack-tail-loss-probe") }
    func testSackTailLossProbeSegments() { run("sack-tail-loss-probe-segments") }
    func testSackTwoHoles() { run("sack-two-holes") }
    func testSuperSegments() { run("super-segments") }
    func testSuperSegmentsClose() { run("super-segments-close") }
    func testSuperSegmentsAbort() { run("super-segments-abort") }
    func testSuperSegmentsNoSack() { run("super-segments-no-sack") }
    func testSimultaneousClose() { run("simultaneous-close") }
    func testSimultaneousOpen() { run("simultaneous-open") }
    func testSlowStartByteCounting() { run("slow-start-byte-counting") }
    func testSynCookies() { run("syn-cookies") }
    func testTimeWaitReuse() { run("time-wait-reuse") }
    func testTimestamps() { run("timestamps") }
    func testWindowEdgeAck() { run("window-edge-ack") }
    func testWindowFullBuffer() { run("window-full-buffer") }
    func testWindowReservationFin() { run("window-reservation-fin") }
    func testWindowScaleEdge() { run("window-scale-edge") }
    func testWindowSharedBudget() { run("window-shared-budget") }
    func testZeroWindowFin() { run("zero-window-fin") }
    func testZeroWindowReceive() { run("zero-window-receive") }
    func testZeroWindowSend() { run("zero-window-send") }
}
