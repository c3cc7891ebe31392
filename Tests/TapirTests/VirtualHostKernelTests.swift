import Devices
import Foundation
import Glibc
import XCTest

/// virtual-host's TCP echo on port 7 under `tapir run` on a tap in a namespace the test
/// makes: the kernel's TCP gets back what it sends, while other TCP ports stay closed.
final class VirtualHostKernelTests: XCTestCase {
    func testTCPPort7EchoesWhatTheKernelSendsAndOtherPortsStayClosed() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test-vhost")
        defer { sandbox.remove() }
        let tapir = try TapirCommand.start([TapirCommand.lua("packs/virtual-host")], device: "tapv7", in: sandbox,
                                           ipv6: true)

        let lines = try sandbox.run(["sh", "-c", "printf 'one\\ntwo\\n' | nc -q 2 -w 3 198.18.0.2 7"])
        XCTAssertEqual(lines.stdout, "one\ntwo\n", lines.stderr)
        let six = try sandbox.run(["sh", "-c", "printf 'over six\\n' | nc -6 -q 2 -w 3 2001:2::2 7"])
        XCTAssertEqual(six.stdout, "over six\n", six.stderr)

        // A megabyte of every byte value, sent while it comes back, compared whole.
        let bulk = try sandbox.run(["python3", "-c", """
            import hashlib, os, socket, threading
            data = os.urandom(1 << 20)
            s = socket.create_connection(("198.18.0.2", 7), timeout=10)
            sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
            sender.start()
            back = bytearray()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                back += chunk
            sender.join()
            print(len(back), bytes(back) == data)
            """], timeout: .seconds(30))
        XCTAssertEqual(bulk.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "1048576 True", bulk.stderr)

        let closed = try sandbox.run(["sh", "-c", "nc -z -w2 198.18.0.2 80; echo status=$?"])
        XCTAssertTrue(closed.stdout.contains("status=1"), closed.stdout + closed.stderr)
        let udp = try sandbox.run(["sh", "-c", "echo still-udp | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(udp.stdout, "still-udp\n", "UDP echo on port 7 goes on")
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }
}
