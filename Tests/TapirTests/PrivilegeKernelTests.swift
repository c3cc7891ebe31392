import Devices
import Foundation
import Glibc
import XCTest

/// `tapir run --user`: root is dropped before any Lua runs (no capability left, a root-only
/// file stays closed even with --allow io, tapir.open says what it needs), the sandbox is
/// still removed at exit (also when tapir is killed), a script made unreadable while
/// watched keeps its old version, scripts, packs and prelude in a folder the user cannot
/// read are read before the drop; and tapir run with no root at all on a device the user owns.
///
/// What the dropped process reads (scripts, the prelude, the binary for setpriv) is staged
/// in a world-readable temporary folder: the checkout itself may sit where the user cannot
/// read (a clone under /root, mode 700).
final class PrivilegeKernelTests: XCTestCase {
    static let namespacePrefix = "tapir-test-ft"
    static let user = "nobody"

    /// lua/ copied into a world-readable folder for this test (removed at its end).
    private var staged: String?

    /// The copy of lua/ (TAPIR_LUA_DIR for the tapir started), made once per test.
    func stagedLua() throws -> String {
        if let staged { return staged + "/lua" }
        let directory = try temporaryDirectory("stage")
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let copied = try ChildProcess.run(["cp", "-R", TapirCommand.repository.appendingPathComponent("lua").path,
                                           directory + "/lua"])
        XCTAssertEqual(copied.status, 0, copied.stderr)
        XCTAssertEqual(try ChildProcess.run(["chmod", "-R", "a+rX", directory]).status, 0)
        staged = directory
        return directory + "/lua"
    }

    /// `env TAPIR_LUA_DIR=<the staged copy>`, to put before the tapir command.
    func stagedEnvironment() throws -> [String] {
        ["/usr/bin/env", "TAPIR_LUA_DIR=" + (try stagedLua())]
    }

    /// The binary copied beside the staged lua/ (stage/bin/tapir, found as an install's
    /// is), for a tapir nobody runs from the start.
    func stagedBinary() throws -> String {
        let stage = URL(fileURLWithPath: try stagedLua()).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: stage + "/bin", withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        XCTAssertEqual(try ChildProcess.run(["cp", TapirCommand.path, stage + "/bin/tapir"]).status, 0)
        XCTAssertEqual(chmod(stage + "/bin/tapir", 0o755), 0)
        return stage + "/bin/tapir"
    }

    /// The staged copy of examples/responder.lua.
    func responder() throws -> String { try stagedLua() + "/examples/responder.lua" }

    var nobody: (uid: uid_t, gid: gid_t)? {
        getpwnam(Self.user).map { ($0.pointee.pw_uid, $0.pointee.pw_gid) }
    }

    func requireRootAndNobody() throws -> (uid: uid_t, gid: gid_t) {
        try TapirCommand.requireRoot()
        guard let nobody else { throw XCTSkip("no user '\(Self.user)' to drop to") }
        return nobody
    }

    /// A fresh directory under /tmp that the dropped user can read.
    func temporaryDirectory(_ name: String) throws -> String {
        let directory = NSTemporaryDirectory() + "\(Self.namespacePrefix)-\(name)-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        return directory
    }

    /// What `nc -u` gets back from 198.18.0.2:PORT in the namespace, asking until it answers.
    func ask(_ namespace: String, port: Int, attempts: Int = 30) throws -> String {
        for _ in 0..<attempts {
            let reply = try ChildProcess.run(["ip", "netns", "exec", namespace, "sh", "-c",
                                              "printf q | nc -u -w1 198.18.0.2 \(port)"]).stdout
            if !reply.isEmpty { return reply }
            usleep(100_000)
        }
        return ""
    }

    /// A pack asking for io that reports, for each datagram to port 9, its uid, gid and
    /// capabilities, what reading `secret` gave, and what tapir.open said.
    func writeReportPack(in directory: String) throws {
        try """
            return {
              name = "privileges", version = "1.0.0", description = "reports what it may do", api = 1,
              handlers = {"report.lua"},
              config = {secret = {type = "string", default = "", help = "a file to try to read"}},
              permissions = {"io"},
            }
            """.write(toFile: directory + "/pack.lua", atomically: true, encoding: .utf8)
        try """
            local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
            tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
              dev:write(pkt:reply{arp = {op = 2, sha = MAC}, eth = {src = MAC}})
              return true
            end)
            local function status(field)
              local file = assert(io.open("/proc/self/status"))
              local text = file:read("a")
              file:close()
              return text:match(field .. ":%s*([^\\n]*)")
            end
            tapir.on("udp", {dport = 9}, function(pkt, dev)
              local file, err = io.open(tapir.config.secret, "r")
              local secret = file and ("read " .. file:read("a")) or ("refused: " .. tostring(err))
              if file then file:close() end
              local opened, openError = pcall(tapir.open, {name = "tapq0"})
              local report = string.format("uid=%s|gid=%s|CapEff=%s|CapPrm=%s|secret=%s|open=%s",
                status("Uid"), status("Gid"), status("CapEff"), status("CapPrm"), secret,
                opened and "opened" or tostring(openError))
              tapir.log.info(report)
              dev:write(pkt:reply{payload = report})
              return true
            end)
            """.write(toFile: directory + "/report.lua", atomically: true, encoding: .utf8)
    }

    func testUserDropsRootBeforeLuaRunsAndTheSandboxIsStillRemovedAtExit() throws {
        let nobody = try requireRootAndNobody()
        let directory = try temporaryDirectory("pack")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try writeReportPack(in: directory)
        let secret = directory + "/secret"
        try "root only".write(toFile: secret, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(secret, 0o600), 0)

        let tapir = try ChildProcess.spawn(try stagedEnvironment() + [TapirCommand.path, "run", directory,
                                            "--set", "secret=\(secret)", "--allow", "io", "--user", Self.user])
        let namespace = try TapirCommand.sandboxNamespace(of: tapir)
        let report = try ask(namespace, port: 9)
        let fields = Dictionary(report.split(separator: "|").compactMap { field -> (String, String)? in
            let parts = field.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }, uniquingKeysWith: { first, _ in first })
        XCTAssertEqual(fields["uid"]?.split(separator: "\t").map(String.init), Array(repeating: "\(nobody.uid)", count: 4),
                       report)
        XCTAssertEqual(fields["gid"]?.split(separator: "\t").map(String.init), Array(repeating: "\(nobody.gid)", count: 4),
                       report)
        XCTAssertEqual(fields["CapEff"], "0000000000000000", report)
        XCTAssertEqual(fields["CapPrm"], "0000000000000000", report)
        XCTAssertEqual(fields["secret"], "refused: \(secret): Permission denied", report)
        XCTAssertTrue(fields["open"]?.contains("tapir runs as \(Self.user) (--user) and cannot make or bring up devices now")
                      == true, report)

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(15))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains(
            "dropped root: running as \(Self.user) (uid \(nobody.uid), gid \(nobody.gid)), no capabilities"), output.stderr)
        XCTAssertFalse(try TapirCommand.namespaceExists(namespace), "the sandbox is removed: \(output.stderr)")
    }

    /// The console drops root the same way: its prompt then has the user's rights only, and
    /// peer() (which would need root to enter the sandbox) is refused with what to run instead.
    func testConsoleUserDropsRootAndRefusesPeerWithTheCommandToRunInstead() throws {
        let nobody = try requireRootAndNobody()
        let directory = try temporaryDirectory("console")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let secret = directory + "/secret"
        try "root only".write(toFile: secret, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(secret, 0o600), 0)
        let lines = [#"(io.open('/proc/self/status'):read('a')):match('Uid:%s*([%d%s]+)\n')"#,
                     "(select(2, io.open('\(secret)')))",
                     "peer('true')",
                     "'done'"]
        let output = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | TAPIR_LUA_DIR='\(try stagedLua())' \(TapirCommand.path) console "
             + "--user \(Self.user)", "sh"] + lines,
            timeout: .seconds(30))
        XCTAssertEqual(output.status, 0, output.stderr)
        let printed = output.stdout.split(separator: "\n").map(String.init)
        let sandboxLine = printed.first { $0.hasPrefix("tapir: sandbox namespace ") }
        let namespace = sandboxLine?.split(separator: " ").dropFirst(3).first.map { String($0.dropLast()) }
        XCTAssertTrue(namespace?.hasPrefix("tapir-") == true, output.stdout)
        XCTAssertTrue(sandboxLine?.contains("ip netns exec \(namespace ?? "?") COMMAND (as root)") == true, output.stdout)
        XCTAssertTrue(printed.contains(Array(repeating: "\(nobody.uid)", count: 4).joined(separator: "\t")), output.stdout)
        XCTAssertTrue(printed.contains("\(secret): Permission denied"), output.stdout)
        XCTAssertTrue((output.stdout + output.stderr).contains(
            "peer needs root to enter the sandbox, and tapir console runs as \(Self.user) (--user); "
            + "run it from another shell as root: ip netns exec \(namespace ?? "?") COMMAND"), output.stdout + output.stderr)
        XCTAssertEqual(printed.last, "done", output.stdout)
        XCTAssertTrue(output.stderr.contains("dropped root: running as \(Self.user)"), output.stderr)
        if let namespace {
            XCTAssertFalse(try TapirCommand.namespaceExists(namespace), "the sandbox is removed")
        }
    }

    func testTheSandboxIsRemovedEvenWhenTheDroppedProcessIsKilled() throws {
        _ = try requireRootAndNobody()
        let tapir = try ChildProcess.spawn(try stagedEnvironment() + [TapirCommand.path, "run", try responder(),
                                                                       "--user", Self.user])
        let namespace = try TapirCommand.sandboxNamespace(of: tapir)
        var answered = false
        for _ in 0..<50 where !answered {
            answered = try ChildProcess.run(["ip", "netns", "exec", namespace, "ping", "-c", "1", "-W", "1",
                                             "198.18.0.2"]).stdout.contains("1 received")
            if !answered { usleep(100_000) }
        }
        XCTAssertTrue(answered)
        tapir.signal(SIGKILL)
        _ = tapir.wait(timeout: .seconds(5))
        var gone = false
        let deadline = ContinuousClock.now + .seconds(10)
        while !gone, ContinuousClock.now < deadline {
            gone = try !TapirCommand.namespaceExists(namespace)
            if !gone { usleep(100_000) }
        }
        if !gone { _ = try? ChildProcess.run(["ip", "netns", "del", namespace]) }
        XCTAssertTrue(gone, "the keeper removes the sandbox when tapir dies")
    }

    /// A drop that fails names the call and its errno, and stops tapir before any Lua runs
    /// (it read "setgroups failed: Operation not permitted", without the number). As root
    /// of a user namespace of its own (unshare --map-root-user), whose setgroups is denied,
    /// tapir can make its device in the namespace's own network but not drop to nobody.
    func testAFailedDropNamesTheCallAndItsErrno() throws {
        try TapirCommand.requireRoot()
        guard let unshare = ChildProcess.locate("unshare") else { throw XCTSkip("no unshare (util-linux)") }
        let probe = try ChildProcess.run([unshare, "--user", "--map-root-user", "--net", "true"])
        guard probe.succeeded else { throw XCTSkip("no user namespaces here: \(probe.stderr)") }
        let output = try ChildProcess.run([unshare, "--user", "--map-root-user", "--net"] + (try stagedEnvironment())
                                          + [TapirCommand.path, "run", try responder(), "--dev", "tapirdrop0",
                                             "--user", Self.user],
                                          timeout: .seconds(20))
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("tapir: cannot drop root to \(Self.user): "
                                             + "setgroups failed: Operation not permitted (errno 1)"), output.stderr)
    }

    func testTheKeeperRefusesANamespaceItsParentDidNotMake() throws {
        let output = try ChildProcess.run([TapirCommand.path, "sandbox-keeper", "tapir-1-0"])
        XCTAssertEqual(output.status, 2)
        XCTAssertTrue(output.stderr.contains("refusing to keep 'tapir-1-0': not a sandbox of process \(getpid())"),
                      output.stderr)
    }

    /// As the dropped user a mode of 000 makes the script unreadable (root would read it anyway).
    func testAScriptMadeUnreadableWhileWatchedKeepsItsOldVersionAndReloadsWhenReadable() throws {
        _ = try requireRootAndNobody()
        let sandbox = try Sandbox(prefix: Self.namespacePrefix)
        defer { sandbox.remove() }
        let directory = try temporaryDirectory("unreadable")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/echo.lua"
        try TapirCommand.taggedEcho("v1").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(chmod(path, 0o644), 0)
        let tapir = try sandbox.start([TapirCommand.path, "run", path, "--dev", "tapy0", "--user", Self.user])
        try TapirCommand.waitForDevice("tapy0", in: sandbox, process: tapir)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "tapy0"])
        try sandbox.ip(["link", "set", "tapy0", "up"])
        XCTAssertEqual(try ask(sandbox.namespace, port: 7), "v1:q")

        XCTAssertEqual(chmod(path, 0), 0)
        usleep(400_000)
        XCTAssertEqual(try ask(sandbox.namespace, port: 7), "v1:q", "the old version keeps running")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))  // root writes v2, still mode 000
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(TapirCommand.taggedEcho("v2").utf8))
        try handle.close()
        usleep(400_000)
        XCTAssertEqual(try ask(sandbox.namespace, port: 7), "v1:q", "a new version it cannot read changes nothing")
        XCTAssertEqual(chmod(path, 0o644), 0)
        usleep(400_000)
        XCTAssertEqual(try ask(sandbox.namespace, port: 7), "v2:q", "readable again: reloaded")

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(15))
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("reload of \(path) failed, the old version keeps running: "), output.stderr)
        XCTAssertTrue(output.stderr.contains("Permission denied"), output.stderr)
        XCTAssertEqual(output.stderr.components(separatedBy: "reloaded \(path)").count - 1, 1, output.stderr)
    }

    /// A checkout the user cannot read (a clone under /root, mode 700): tapir run --user
    /// reads the script (and the module beside it), the pack and the prelude while still
    /// root, so both answer as nobody; a reload then needs the files as nobody, and says
    /// exactly why it cannot, naming the file and the user; the old versions keep running.
    /// The console reads its prelude and its script the same way.
    func testScriptsPacksAndPreludeTheUserCannotReadAreReadBeforeTheDrop() throws {
        let nobody = try requireRootAndNobody()
        let directory = try temporaryDirectory("private")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        XCTAssertEqual(chmod(directory, 0o700), 0)
        let lua = directory + "/lua"
        XCTAssertEqual(try ChildProcess.run(["cp", "-R", TapirCommand.repository.appendingPathComponent("lua").path,
                                             lua]).status, 0)
        let script = directory + "/echo.lua"
        try ("local helper = require \"helper\"\n" + TapirCommand.taggedEcho("v1")
             .replacingOccurrences(of: "\"v1:\"", with: "helper.tag .. \":\""))
            .write(toFile: script, atomically: true, encoding: .utf8)
        try "return {tag = \"beside\"}\n".write(toFile: directory + "/helper.lua", atomically: true, encoding: .utf8)
        let pack = directory + "/reporter"
        try FileManager.default.createDirectory(atPath: pack, withIntermediateDirectories: true)
        try """
            return {name = "reporter", version = "1.0.0", description = "d", api = 1, handlers = {"main.lua"}}
            """.write(toFile: pack + "/pack.lua", atomically: true, encoding: .utf8)
        try """
            local pair = require "tapir.pair"
            tapir.on("udp", {dport = 9}, function(pkt, dev)
              dev:write(pkt:reply{payload = "pack:" .. type(pair.RawUDPProtocol)})
              return true
            end)
            """.write(toFile: pack + "/main.lua", atomically: true, encoding: .utf8)
        let nobodyCanRead = try ChildProcess.run(["setpriv", "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)",
                                                  "--clear-groups", "cat", script])
        XCTAssertNotEqual(nobodyCanRead.status, 0, "the folder is closed to \(Self.user)")

        let tapir = try ChildProcess.spawn(["/usr/bin/env", "TAPIR_LUA_DIR=" + lua, TapirCommand.path, "run",
                                            script, pack, "--user", Self.user])
        let namespace = try TapirCommand.sandboxNamespace(of: tapir)
        XCTAssertEqual(try ask(namespace, port: 7), "beside:q", "the script and the module beside it")
        XCTAssertEqual(try ask(namespace, port: 9), "pack:table", "the pack and the prelude module it required")

        tapir.signal(SIGHUP)
        usleep(500_000)
        XCTAssertEqual(try ask(namespace, port: 7), "beside:q", "the old version keeps running")
        XCTAssertEqual(try ask(namespace, port: 9), "pack:table")
        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
        for file in [script, pack + "/main.lua"] {
            XCTAssertTrue(output.stderr.contains("failed, the old version keeps running: cannot read \(file): Permission "
                + "denied; tapir runs as \(Self.user) (--user), who may not read it"), output.stderr)
        }
        XCTAssertTrue(output.stderr.contains("cannot watch \(directory): no permission to read its directory as "
            + "\(Self.user) (--user): saving it does not reload it; SIGHUP (kill -HUP) does"), output.stderr)
        XCTAssertFalse(try TapirCommand.namespaceExists(namespace))

        let console = try ChildProcess.run(
            ["/bin/sh", "-c", "printf '%s\\n' \"$@\" | TAPIR_LUA_DIR='\(lua)' \(TapirCommand.path) console '\(script)' "
             + "--user \(Self.user)", "sh", "require('helper').tag", "hexdump('AB')"], timeout: .seconds(30))
        XCTAssertEqual(console.status, 0, console.stderr)
        XCTAssertTrue(console.stdout.contains("beside"), console.stdout + console.stderr)
        XCTAssertTrue(console.stdout.contains("41 42"), "the console prelude's hexdump: \(console.stdout)")
    }

    /// /dev/net/tun at mode 0600 (as in some containers), tapir started as nobody: the
    /// kernel's EACCES is blamed on the node's permissions, which no capability changes.
    /// The node is changed only in a private mount namespace; nothing is made.
    func testAnUnreadableTunNodeIsBlamedOnItsPermissions() throws {
        let nobody = try requireRootAndNobody()
        guard let setpriv = ChildProcess.locate("setpriv") else { throw XCTSkip("setpriv (util-linux) is not installed") }
        let directory = try temporaryDirectory("tun600")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let asNobody = [setpriv, "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", try stagedBinary(), "run", try responder(),
                        "--dev", "tapirnode0"].map { "'\($0)'" }.joined(separator: " ")
        let output = try ChildProcess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", """
            mount -t tmpfs -o size=4k,mode=755 tapir-test-ft '\(directory)' && \
            mknod -m 600 '\(directory)/tun' c 10 200 && mount --bind '\(directory)/tun' /dev/net/tun && \
            exec \(asNobody)
            """], timeout: .seconds(20))
        XCTAssertEqual(output.status, 1, output.stderr)
        XCTAssertTrue(output.stderr.contains("cannot open /dev/net/tun (Permission denied (errno 13)): the device "
                                             + "node's permissions refuse this user"), output.stderr)
        XCTAssertTrue(output.stderr.contains("chmod 0666 /dev/net/tun"), output.stderr)
        XCTAssertFalse(output.stderr.contains("CAP_NET_ADMIN"), output.stderr)
    }

    /// No root at all: a device made for the user beforehand (`ip tuntap add ... user`),
    /// up and addressed; tapir started as that user with no capability (setpriv).
    func testRunningAsNobodyOnADeviceItOwnsNeedsNoRoot() throws {
        let nobody = try requireRootAndNobody()
        guard let setpriv = ChildProcess.locate("setpriv") else { throw XCTSkip("setpriv (util-linux) is not installed") }
        let sandbox = try Sandbox(prefix: Self.namespacePrefix)
        defer { sandbox.remove() }
        try sandbox.ip(["tuntap", "add", "dev", "tapn0", "mode", "tap", "user", "\(nobody.uid)"])
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", "tapn0"])
        try sandbox.ip(["link", "set", "tapn0", "up"])
        let asNobody = [setpriv, "--reuid=\(nobody.uid)", "--regid=\(nobody.gid)", "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all", try stagedBinary(), "run", try responder(),
                        "--dev", "tapn0"]
        let tapir: ChildProcess
        var mountPoint: String?
        defer { if let mountPoint { try? FileManager.default.removeItem(atPath: mountPoint) } }
        var device = stat()
        if stat("/dev/net/tun", &device) == 0, device.st_mode & 0o006 != 0o006 {
            // /dev/net/tun is 0666 on a stock system, 0600 in some containers: give this run
            // a private mount namespace where a node of it is 0666; the machine's stays as it is.
            let directory = try temporaryDirectory("tun")
            mountPoint = directory
            let quoted = (["ip", "netns", "exec", sandbox.namespace] + asNobody).map { "'\($0)'" }.joined(separator: " ")
            tapir = try ChildProcess.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", """
                mount -t tmpfs -o size=4k,mode=755 tapir-test-ft '\(directory)' && \
                mknod -m 666 '\(directory)/tun' c 10 200 && mount --bind '\(directory)/tun' /dev/net/tun && \
                exec \(quoted)
                """])
        } else {
            tapir = try sandbox.start(asNobody)
        }
        var answered = false
        for _ in 0..<50 where !answered {
            answered = try sandbox.run(["ping", "-c", "1", "-W", "1", "198.18.0.2"]).stdout.contains("1 received")
            if !answered {
                if tapir.hasExited { break }
                usleep(100_000)
            }
        }
        XCTAssertTrue(answered, "a host with no privilege answers on its own device")
        let status = (try? String(contentsOfFile: "/proc/\(tapir.pid)/status", encoding: .utf8)) ?? ""
        XCTAssertTrue(status.contains("CapEff:\t0000000000000000"), status)
        XCTAssertTrue(status.contains("Uid:\t\(nobody.uid)\t"), status)

        tapir.signal(SIGTERM)
        let output = tapir.wait(timeout: .seconds(15))
        XCTAssertEqual(output.status, 0, output.stderr)
    }
}
