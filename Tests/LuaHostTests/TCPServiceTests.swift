import Foundation
import Logging
import Packets
import Reactor
import TCPEngine
import XCTest
@testable import Devices
@testable import LuaHost

/// The host's TCP on a memory device and a manual clock, with a second TCP engine as the
/// peer: a listener's function per connection, receive and send in tasks, closes, resets.
final class TCPServiceTests: MemoryHostTestCase {
    var peer: TCPEngine!

    static let peerAddress = TCPAddress.v4(TestFrames.kernelIP)
    static let hostAddress = TCPAddress.v4(TestFrames.hostIP)

    override func setUpWithError() throws {
        try super.setUpWithError()
        var configuration = TCPConfiguration()
        configuration.delayedAck = .zero
        peer = TCPEngine(configuration: configuration)
    }

    var peerNow: TCPInstant { TCPInstant(microseconds: Int64(timers.clock.now.nanoseconds / 1000)) }

    /// Moves segments both ways, and the clock by 1 ms a round, until nothing moves for a
    /// few rounds (or `rounds` pass). Returns the frames the host wrote that were not TCP.
    @discardableResult
    func exchange(rounds: Int = 200) -> [[UInt8]] {
        var other: [[UInt8]] = []
        var quiet = 0
        for _ in 0..<rounds {
            var moved = false
            peer.dispatch(now: peerNow) { segment in
                moved = true
                device.inject(frame(for: segment))
            }
            if host.pump(hostDevice) > 0 { moved = true }
            timers.advance(by: .milliseconds(1))
            for written in device.takeWritten() {
                moved = true
                written.withUnsafeBytes { bytes in
                    let decoded = FrameDecoder.decode(bytes, linkType: .ethernet)
                    guard let segment = decoded.tcp(bytes), let ip = decoded.ipv4(bytes) else {
                        other.append(written)
                        return
                    }
                    XCTAssertTrue(ip.verifyChecksum())
                    XCTAssertTrue(segment.verifyChecksum(ip.pseudoHeader), "the host's TCP checksum")
                    XCTAssertEqual(decoded.ethernet(bytes)?.dst, TestFrames.kernelMAC)
                    let claimed = peer.process(now: peerNow, source: TCPEndpoint(.v4(ip.src), segment.sport),
                                               destination: TCPEndpoint(.v4(ip.dst), segment.dport), segment: segment)
                    if !claimed, segment.flags & TCPFlags.syn != 0 {
                        // What a kernel does for a SYN to a closed port (RFC 9293 3.10.7.1).
                        device.inject(refusal(of: segment, ip))
                    }
                }
            }
            quiet = moved ? 0 : quiet + 1
            if quiet > 5 { break }
        }
        return other
    }

    private func frame(for segment: TCPOutgoingSegment) -> [UInt8] {
        var bytes: [UInt8] = []
        EthernetRepr(src: TestFrames.kernelMAC, dst: TestFrames.hostMAC, type: EtherType.ipv4).emit(appendingTo: &bytes)
        guard case let .v4(source) = segment.source.address, case let .v4(destination) = segment.destination.address else {
            return bytes
        }
        IPv4Repr(src: source, dst: destination, proto: IPProtocol.tcp, payloadLength: segment.length).emit(appendingTo: &bytes)
        let start = bytes.count
        bytes += [UInt8](repeating: 0, count: segment.length)
        bytes.withUnsafeMutableBytes { _ = segment.write(into: UnsafeMutableRawBufferPointer(rebasing: $0[start...])) }
        return bytes
    }

    private func refusal(of syn: TCPPacket, _ ip: IPv4Packet) -> [UInt8] {
        let rst = TCPRepr(sport: syn.dport, dport: syn.sport, seq: 0, ack: syn.seq &+ 1,
                          flags: TCPFlags.rst | TCPFlags.ack, window: 0)
        let header = IPv4Repr(src: ip.dst, dst: ip.src, proto: IPProtocol.tcp, payloadLength: rst.bufferLength)
        var bytes: [UInt8] = []
        EthernetRepr(src: TestFrames.kernelMAC, dst: TestFrames.hostMAC, type: EtherType.ipv4).emit(appendingTo: &bytes)
        header.emit(appendingTo: &bytes)
        rst.emit(appendingTo: &bytes, pseudoHeader: header.pseudoHeader)
        return bytes
    }

    func connect(port: UInt16) throws -> TCPSocket {
        try peer.connect(from: TCPEndpoint(Self.peerAddress, 0), to: TCPEndpoint(Self.hostAddress, port), now: peerNow)
    }

    func send(_ socket: TCPSocket, _ text: String) {
        var bytes = Array(text.utf8)
        let taken = bytes.withUnsafeMutableBytes { peer.write(socket, UnsafeRawBufferPointer($0)) }
        XCTAssertEqual(taken, bytes.count)
        bytes.removeAll()
    }

    func received(_ socket: TCPSocket) -> String {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let count = buffer.withUnsafeMutableBytes { peer.read(socket, into: $0) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    static let echo = """
        tapir.tcp.listen({port = 7, ip = "198.18.0.2"}, function(conn)
          tapir.log.info("from " .. conn.peer.ip .. " state " .. conn.state)
          while true do
            local line, err, partial = conn:receive("*l")
            if not line then tapir.log.info("ended: " .. err .. " [" .. tostring(partial) .. "]") break end
            conn:send(line:upper() .. "\\n")
          end
        end)
        """

    func testAListenerEchoesLinesInATaskPerConnection() throws {
        try load(Self.echo)
        let first = try connect(port: 7)
        let second = try connect(port: 7)
        exchange()
        XCTAssertEqual(peer.state(first), .established)
        send(first, "hello\r\nwor")
        send(second, "other\n")
        exchange()
        XCTAssertEqual(received(first), "HELLO\n")
        XCTAssertEqual(received(second), "OTHER\n")
        send(first, "ld\nlast")
        peer.shutdown(first)
        exchange()
        XCTAssertEqual(received(first), "WORLD\n")
        XCTAssertTrue(peer.isAtEnd(first), "the task returned: the host closed its side")
        XCTAssertTrue(logged.lines.contains { $0.contains("from 198.18.0.1 state ESTABLISHED") }, "\(logged.lines)")
        XCTAssertTrue(logged.lines.contains { $0.contains("ended: closed [last]") }, "\(logged.lines)")
        XCTAssertEqual(host.tcp.connections.count, 1, "the second is still open")
    }

    func testReceiveCountsAllAndAny() throws {
        try load("""
            tapir.tcp.listen({port = 9}, function(conn)
              local four = conn:receive(4)
              local any = conn:receiveany(100)
              local rest = conn:receive("*a")
              conn:send(four .. "|" .. any .. "|" .. rest)
            end)
            """)
        let socket = try connect(port: 9)
        exchange()
        send(socket, "abcd")
        exchange()
        send(socket, "efg")
        exchange()
        send(socket, "hij")
        peer.shutdown(socket)
        exchange()
        XCTAssertEqual(received(socket), "abcd|efg|hij")
    }

    func testAFailingConnectionTaskResetsItsConnectionOnly() throws {
        try load("""
            tapir.tcp.listen({port = 7}, function(conn)
              local line = conn:receive()
              if line == "boom" then error("bad line") end
              conn:send("ok\\n")
            end)
            """)
        let bad = try connect(port: 7)
        let good = try connect(port: 7)
        exchange()
        send(bad, "boom\n")
        send(good, "fine\n")
        exchange()
        XCTAssertNil(peer.state(bad).flatMap { $0 == .established ? $0 : nil }, "reset")
        XCTAssertEqual(received(good), "ok\n")
        XCTAssertTrue(logged.lines.contains { $0.contains("script.lua:3: bad line") }, "\(logged.lines)")
    }

    func testATimeoutComesBackAsNilTimeout() throws {
        try load("""
            tapir.tcp.listen({port = 7}, function(conn)
              conn:settimeout(50)
              local line, err = conn:receive()
              conn:send(tostring(line) .. " " .. err .. "\\n")
            end)
            """)
        let socket = try connect(port: 7)
        exchange()
        XCTAssertEqual(received(socket), "")
        timers.advance(by: .milliseconds(60))
        exchange()
        XCTAssertEqual(received(socket), "nil timeout\n")
    }

    func testASYNToAPortNobodyListensOnStillReachesHandlers() throws {
        try load("""
            tapir.tcp.listen({port = 7}, function(conn) end)
            tapir.on("tcp", function(pkt, dev) tapir.log.info("handler saw port " .. pkt.tcp.dport) end)
            """)
        _ = try connect(port: 8)
        exchange(rounds: 10)
        XCTAssertTrue(logged.lines.contains { $0.contains("handler saw port 8") }, "\(logged.lines)")
        XCTAssertFalse(logged.lines.contains { $0.contains("handler saw port 7") })
    }

    func testAnUnclaimedARPRequestForAListenerIsAnswered() throws {
        try load(#"tapir.tcp.listen({port = 7, ip = "198.18.0.2", mac = "02:00:00:00:00:99"}, function(conn) end)"#)
        device.inject(TestFrames.arpRequest())
        device.inject(TestFrames.arpRequest(for: IPv4Address("198.18.0.3")!))
        host.pump(hostDevice)
        let written = device.takeWritten()
        XCTAssertEqual(written.count, 1)
        written.first?.withUnsafeBytes { bytes in
            let arp = FrameDecoder.decode(bytes, linkType: .ethernet).arp(bytes)
            XCTAssertEqual(arp?.op, 2)
            XCTAssertEqual(arp?.sha.description, "02:00:00:00:00:99")
            XCTAssertEqual(arp?.spa.description, "198.18.0.2")
        }
    }

    func testBadOptionsAreClearErrors() throws {
        XCTAssertThrowsError(try load(#"tapir.tcp.listen({port = 70000}, function() end)"#)) { error in
            XCTAssertTrue("\(error)".contains("port 70000 is not 1-65535"), "\(error)")
        }
        XCTAssertThrowsError(try load(#"tapir.tcp.listen({port = 7, colour = "red"}, function() end)"#, name: "b.lua")) { error in
            XCTAssertTrue("\(error)".contains("unknown option 'colour'"), "\(error)")
        }
        XCTAssertThrowsError(try load(#"tapir.tcp.connect{ip = "198.18.0.1", port = 7}"#, name: "c.lua")) { error in
            XCTAssertTrue("\(error)".contains("only inside a task"), "\(error)")
        }
        try load(#"tapir.tcp.listen({port = 7}, function() end)"#, name: "d.lua")
        XCTAssertThrowsError(try load(#"tapir.tcp.listen({port = 7}, function() end)"#, name: "e.lua")) { error in
            XCTAssertTrue("\(error)".contains("address in use"), "\(error)")
        }
    }

    func testAScriptConnectsToAPeerAndBothSidesTalk() throws {
        let listener = try peer.listen(TCPEndpoint(Self.peerAddress, 5000))
        try load("""
            tapir.spawn(function()
              local conn, err = tapir.tcp.connect{ip = "198.18.0.1", port = 5000, from = "198.18.0.2",
                                                  mac = "02:00:00:00:00:01"}
              assert(conn, err)
              conn:send("hello from the script\\n")
              local line = conn:receive()
              tapir.log.info("peer said " .. line)
              conn:close()
            end)
            """)
        exchange()
        let accepted = try XCTUnwrap(peer.accept(listener))
        XCTAssertEqual(received(accepted), "hello from the script\n")
        send(accepted, "hi back\n")
        exchange()
        XCTAssertTrue(logged.lines.contains { $0.contains("peer said hi back") }, "\(logged.lines)")
        XCTAssertTrue(peer.isAtEnd(accepted))
    }

    func testConnectingToAClosedPortIsRefused() throws {
        try load("""
            tapir.spawn(function()
              local conn, err = tapir.tcp.connect{ip = "198.18.0.1", port = 5001, from = "198.18.0.2",
                                                  mac = "02:00:00:00:00:01"}
              tapir.log.info("connect: " .. tostring(conn) .. " " .. tostring(err))
            end)
            """)
        // The peer engine has no listener: it answers the SYN with a RST.
        exchange()
        XCTAssertTrue(logged.lines.contains { $0.contains("connect: nil connection refused") }, "\(logged.lines)")
    }

    func testAReloadMovesTheListenerAtOnceAndOldConnectionsFinishOnTheOldVersion() throws {
        func version(_ tag: String) -> String {
            """
            tapir.tcp.listen({port = 7}, function(conn)
              while true do
                local line = conn:receive()
                if not line then break end
                conn:send("\(tag):" .. line .. "\\n")
              end
            end)
            tapir.spawn(function() while true do tapir.sleep(10) end end)
            """
        }
        let script = try load(version("v1"))
        let old = try connect(port: 7)
        exchange()
        send(old, "a\n")
        exchange()
        XCTAssertEqual(received(old), "v1:a\n")
        try version("v2").write(toFile: script.path, atomically: true, encoding: .utf8)
        let replacement = try host.reload(script)
        XCTAssertEqual(replacement.handlerCount, 0)
        let new = try connect(port: 7)
        exchange()
        send(old, "b\n")
        send(new, "c\n")
        exchange()
        XCTAssertEqual(received(old), "v1:b\n", "the old connection finishes on the version that accepted it")
        XCTAssertEqual(received(new), "v2:c\n", "new connections reach the new version")
        XCTAssertEqual(script.tasks.alive, 2, "the old version's connection task, and its sleeper (no longer run)")
        peer.shutdown(old)
        exchange()
        XCTAssertTrue(peer.isAtEnd(old))
        XCTAssertFalse(script.tasks.running, "drained: the old version's tasks ended with its last connection")
        XCTAssertTrue(logged.lines.contains { $0.contains("finishes its 1 connection(s)") }, "\(logged.lines)")
    }

    func testASlowReaderHoldsNoMoreThanItAsksForAndTheWindowShuts() throws {
        try load("""
            tapir.tcp.listen({port = 9}, function(conn)
              while conn:receive(10) do tapir.sleep(5) end
            end)
            """)
        let socket = try connect(port: 9)
        exchange()
        let chunk = [UInt8](repeating: 0x61, count: 256 * 1024)
        var accepted = 0
        for _ in 0..<20 {
            accepted += chunk.withUnsafeBytes { peer.write(socket, $0) }
            exchange(rounds: 20)
        }
        let connection = try XCTUnwrap(host.tcp.connections.values.first)
        XCTAssertLessThanOrEqual(connection.inbox.count, 10, "the inbox holds what one receive(10) takes")
        // The peer's send buffer and the host's receive window, and what the slow reader
        // took meanwhile (10 bytes every 5 ms): far from the 5 MiB offered.
        XCTAssertLessThan(accepted, 512 * 1024, "the peer was held back by the window")
    }
}
