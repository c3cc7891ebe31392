import Devices
import Foundation
import Glibc
import XCTest

/// The Debian package (scripts/package), built once for the class: unpacked with
/// `dpkg-deb -x` into a temporary root (never `dpkg -i`: the machine's package database
/// stays as it is), its tapir run in a mount namespace where the Swift toolchain's folder
/// is hidden under an empty folder, so nothing of Swift is there but what the binary holds.
/// Root: mount namespaces, and the sandbox of `tapir run`.
///
/// scripts/test hands the release binary it built (TAPIR_BINARY, static Swift runtime) to
/// scripts/package; without one, scripts/package builds it (a release build: minutes).
final class DebianPackageTests: XCTestCase {
    /// The .deb and the folder it is unpacked in, or why there are none.
    nonisolated(unsafe) static var built: Result<(deb: String, root: String), Error>?
    nonisolated(unsafe) static var workDirectory: String?

    struct PackagingFailed: Error, CustomStringConvertible { var description: String }

    override func setUpWithError() throws {
        try TapirCommand.requireRoot()
        for tool in ["dpkg-deb", "dpkg-shlibdeps", "unshare", "nsenter"] where ChildProcess.locate(tool) == nil {
            throw XCTSkip("needs \(tool) (scripts/setup installs it)")
        }
        if Self.built == nil { Self.built = Result { try Self.buildAndUnpack() } }
        _ = try Self.built!.get()
    }

    override class func tearDown() {
        if let workDirectory { try? FileManager.default.removeItem(atPath: workDirectory) }
        workDirectory = nil
        built = nil
    }

    static func buildAndUnpack() throws -> (deb: String, root: String) {
        var command = [TapirCommand.repository.appendingPathComponent("scripts/package").path]
        if let binary = ProcessInfo.processInfo.environment["TAPIR_BINARY"], !binary.isEmpty {
            command += ["--binary", binary]
        }
        let packaged = try ChildProcess.run(command, timeout: .seconds(1200))
        guard packaged.succeeded, let deb = packaged.stdout.split(separator: "\n").last.map(String.init) else {
            throw PackagingFailed(description: "scripts/package failed (\(packaged.status)): \(packaged.stderr)")
        }
        let work = NSTemporaryDirectory() + "tapir-deb-\(getpid())-\(UUID().uuidString)"
        workDirectory = work
        try FileManager.default.createDirectory(atPath: work + "/root", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work + "/empty", withIntermediateDirectories: true)
        let path = deb.hasPrefix("/") ? deb : TapirCommand.repository.appendingPathComponent(deb).path
        let unpacked = try ChildProcess.run(["dpkg-deb", "-x", path, work + "/root"])
        guard unpacked.succeeded else { throw PackagingFailed(description: "dpkg-deb -x: \(unpacked.stderr)") }
        return (path, work + "/root")
    }

    var deb: String { try! Self.built!.get().deb }
    var root: String { try! Self.built!.get().root }
    var tapir: String { root + "/usr/bin/tapir" }

    /// The Swift toolchain's folder (/opt/swift here): the one this test bundle loads
    /// libswiftCore.so from (usr/lib/swift/linux under it).
    static var toolchain: String? {
        // Read to the end: /proc files say their size is 0.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() else { return nil }
        let maps = String(decoding: data, as: UTF8.self)
        let marker = "/usr/lib/swift/linux/libswiftCore.so"
        for line in maps.split(separator: "\n") {
            guard let start = line.firstIndex(of: "/"), line.hasSuffix(marker) else { continue }
            return String(line[start...].dropLast(marker.count))
        }
        return nil
    }

    /// `command` in a new mount namespace (private: nothing leaks out) where the toolchain's
    /// folder is an empty folder. `exec` keeps the pid: it is the command's.
    func withoutSwift(_ command: [String]) throws -> [String] {
        let toolchain = try XCTUnwrap(Self.toolchain, "no libswiftCore.so loaded: no toolchain folder to hide")
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"", Self.workDirectory! + "/empty", toolchain]
            + command
    }

    func testTheToolchainIsHiddenAndTheBinaryStillRuns() throws {
        let hidden = try ChildProcess.run(try withoutSwift(["sh", "-c", "ls -A \"$0\"; swift --version", try XCTUnwrap(Self.toolchain)]))
        XCTAssertNotEqual(hidden.status, 0, "swift still runs: \(hidden.stdout)")
        XCTAssertEqual(hidden.stdout, "", "the toolchain's folder is not empty in the namespace")

        let version = try ChildProcess.run(try withoutSwift([tapir, "--version"]))
        XCTAssertEqual(version.status, 0, version.stderr)
        XCTAssertEqual(version.stdout, (VersionTests.sourceVersion ?? "?") + "\n")
        let libraries = try ChildProcess.run(try withoutSwift(["ldd", tapir]))
        XCTAssertFalse(libraries.stdout.contains("not found"), libraries.stdout)
        XCTAssertFalse(libraries.stdout.contains("swift"), libraries.stdout)
    }

    func testPacksAreFoundUnderUsrShareAndTheirTestsPass() throws {
        let list = try ChildProcess.run(try withoutSwift(["env", "-u", "TAPIR_LUA_DIR", "-u", "TAPIR_PACK_PATH",
                                                          "XDG_DATA_HOME=/nonexistent", tapir, "pack", "list"]))
        XCTAssertEqual(list.status, 0, list.stderr)
        for name in ["udp-echo", "virtual-host", "dns-responder"] {
            XCTAssertTrue(list.stdout.contains(name), list.stdout)
        }
        let info = try ChildProcess.run(try withoutSwift([tapir, "pack", "info", "udp-echo"]))
        XCTAssertTrue(info.stdout.contains("folder: \(root)/usr/share/tapir/lua/packs/udp-echo"), info.stdout)

        let test = try ChildProcess.run(try withoutSwift([tapir, "test", "udp-echo"]), timeout: .seconds(60))
        XCTAssertEqual(test.status, 0, test.stdout + test.stderr)
        XCTAssertTrue(test.stdout.contains(" passed, 0 failed"), test.stdout)
        XCTAssertFalse(test.stdout.hasPrefix("0 passed"), test.stdout)
    }

    func testASandboxedVirtualHostAnswersPing() throws {
        let run = try ChildProcess.spawn(try withoutSwift([tapir, "run", "virtual-host"]))
        defer { if !run.hasExited { _ = TapirCommand.stop(run) } }
        // The sandbox's namespace (tapir-PID-N) is mounted in tapir's mount namespace only:
        // it is listed and entered there.
        let enter = ["nsenter", "--target", "\(run.pid)", "--mount"]
        let deadline = ContinuousClock.now + .seconds(20)
        var inside: [String]?
        while ContinuousClock.now < deadline, !run.hasExited, inside == nil {
            let listed = (try? ChildProcess.run(enter + ["ip", "netns", "list"]))?.stdout ?? ""
            if let namespace = listed.split(separator: "\n").map({ String($0.split(separator: " ")[0]) })
                .first(where: { $0.hasPrefix("tapir-\(run.pid)-") }),
               let addresses = try? ChildProcess.run(enter + ["ip", "-n", namespace, "addr"]),
               addresses.stdout.contains("198.18.0.1/24") {
                inside = enter + ["ip", "netns", "exec", namespace]
            } else {
                usleep(50_000)
            }
        }
        guard let inside else {
            let output = TapirCommand.stop(run)
            return XCTFail("no sandbox namespace: \(output.stdout) \(output.stderr)")
        }
        let ping = try ChildProcess.run(inside + ["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"],
                                        timeout: .seconds(20))
        XCTAssertEqual(ping.status, 0, ping.stdout + ping.stderr)
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout)
        let output = TapirCommand.stop(run)
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stdout.contains("tapir: sandbox namespace tapir-\(run.pid)-"), output.stdout)
    }

    func testDependsIsComputedFromTheBinarysLibraries() throws {
        let info = try ChildProcess.run(["dpkg-deb", "--info", deb])
        XCTAssertEqual(info.status, 0, info.stderr)
        let depends = try XCTUnwrap(info.stdout.split(separator: "\n").first { $0.hasPrefix(" Depends: ") })
        for package in ["libc6 (>= ", "liblua5.4-0 (>= ", "libpcap0.8 (>= ", "libedit2 (>= ", "liburing2 (>= "] {
            XCTAssertTrue(depends.contains(package), String(depends))
        }
        XCTAssertFalse(depends.lowercased().contains("swift"), String(depends))
        XCTAssertTrue(info.stdout.contains(" Version: \(VersionTests.sourceVersion ?? "?")\n"), info.stdout)
        let architecture = try ChildProcess.run(["dpkg", "--print-architecture"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(deb.hasSuffix("/tapir_\(VersionTests.sourceVersion ?? "?")_\(architecture).deb"), deb)
        XCTAssertTrue(info.stdout.contains(" Architecture: \(architecture)\n"), info.stdout)
    }

    func testManPagesCompletionsAndDocumentationAreInstalled() throws {
        let documentation = root + "/usr/share/doc/tapir/"
        for file in ["README.md", "SECURITY.md", "copyright", "changelog.gz"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: documentation + file), file)
        }
        for file in ["bash-completion/completions/tapir", "zsh/vendor-completions/_tapir",
                     "fish/vendor_completions.d/tapir.fish"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/usr/share/" + file), file)
        }
        guard ChildProcess.locate("man") != nil else { throw XCTSkip("needs man (man-db)") }
        let page = try ChildProcess.run(["env", "MANPATH=\(root)/usr/share/man", "MANWIDTH=100", "man", "tapir-run"])
        XCTAssertEqual(page.status, 0, page.stderr)
        XCTAssertTrue(page.stdout.contains("tapir run scripts..."), page.stdout)
        XCTAssertTrue(page.stdout.contains("--allow"), page.stdout)
        let info = try ChildProcess.run(["env", "MANPATH=\(root)/usr/share/man", "man", "-w", "tapir-pack-info"])
        XCTAssertEqual(info.stdout, "\(root)/usr/share/man/man1/tapir-pack-info.1.gz\n", info.stderr)
    }

    func testLintianFindsNoErrors() throws {
        guard ChildProcess.locate("lintian") != nil else { throw XCTSkip("needs lintian (scripts/setup installs it)") }
        let lintian = try ChildProcess.run(["lintian", "--allow-root", "--tag-display-limit", "0", deb],
                                           timeout: .seconds(300))
        XCTAssertEqual(lintian.status, 0, lintian.stdout + lintian.stderr)
        XCTAssertFalse(lintian.stdout.split(separator: "\n").contains { $0.hasPrefix("E: ") }, lintian.stdout)
    }
}
