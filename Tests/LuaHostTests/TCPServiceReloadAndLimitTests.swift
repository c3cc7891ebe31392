import Foundation
import XCTest
@testable import LuaHost

/// Two things the http-server pack's tests found: a script that listens reloads (the new
/// version takes the port over), and connections that closed and wait in TIME-WAIT do not
/// fill their listener's share.
extension TCPServiceTests {
    /// A reload of an unchanged listening script: the new version's tapir.tcp.listen runs
    /// while the old one holds the port, and takes it over.
    func testAListeningScriptReloads() throws {
        let script = try load(Self.echo)
        XCTAssertNoThrow(try host.reload(script))
        let socket = try connect(port: 7)
        exchange()
        send(socket, "after reload\n")
        exchange()
        XCTAssertEqual(received(socket), "AFTER RELOAD\n")
    }

    /// 140 connections closed within a second, 20 at a time: past the listener's limit of
    /// 128 if the TIME-WAITs counted.
    func testConnectionsInTimeWaitDoNotFillTheListener() throws {
        try load("""
            tapir.tcp.listen({port = 7, ip = "198.18.0.2"}, function(conn) conn:send("bye\\n") end)
            """)
        let start = timers.clock.now
        for batch in 0..<7 {  // 140 connections, 20 at a time, well within one second
            let sockets = try (0..<20).map { _ in try connect(port: 7) }
            exchange(rounds: 5)
            for (index, socket) in sockets.enumerated() {
                XCTAssertEqual(peer.state(socket), .closeWait, "connection \(batch * 20 + index) accepted, closed by the host")
                guard peer.state(socket) == .closeWait else { return }
                XCTAssertEqual(received(socket), "bye\n")
                peer.close(socket)
            }
            exchange(rounds: 5)
        }
        XCTAssertLessThan(timers.clock.now.nanoseconds - start.nanoseconds, 1_000_000_000, "within timeWait")
    }
}
