import Glibc

/// A small process that keeps root after `tapir run --user` drops it, for the one job
/// that needs root at the end: removing the sandbox namespaces. It is started before the
/// drop with one end of a socket pair as its standard input, and knows its namespaces
/// from its command line (each must be `tapir-<its parent's pid>-<n>`). It takes one
/// request, `remove-sandboxes`, and refuses any other; when its parent dies without
/// asking (the socket reads end of file), it removes them anyway.
public final class SandboxKeeper {
    static let request = "remove-sandboxes"
    static let answer = "removed"

    public let pid: pid_t
    private var socket: CInt
    private var finished = false

    /// Starts `executable arguments... NAMESPACE...`: a program whose main is `serve`.
    public static func start(executable: String, arguments: [String],
                             namespaces: [String]) throws(DeviceError) -> SandboxKeeper {
        var ends: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw .system(operation: "socketpair", errno: errno)
        }
        defer { Glibc.close(ends[1]) }
        let pid: pid_t
        do {
            // Its messages go to our standard error; standard output may carry a recording.
            pid = try Spawn.start(path: executable, arguments: [executable] + arguments + namespaces,
                                  stdin: ends[1], stdout: STDERR_FILENO, stderr: STDERR_FILENO,
                                  ownProcessGroup: true)
        } catch {
            Glibc.close(ends[0])
            throw error
        }
        return SandboxKeeper(pid: pid, socket: ends[0])
    }

    private init(pid: pid_t, socket: CInt) {
        self.pid = pid
        self.socket = socket
    }

    deinit {
        if socket >= 0 { Glibc.close(socket) }
    }

    /// Asks the keeper to remove the namespaces and waits for its answer, at most
    /// `timeout`. True when it said they are removed. Idempotent.
    @discardableResult
    public func removeSandboxes(timeout: Duration = .seconds(15)) -> Bool {
        guard !finished else { return true }
        finished = true
        defer {
            Glibc.close(socket)
            socket = -1
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
        }
        let line = Array((Self.request + "\n").utf8)
        guard line.withUnsafeBytes({ Glibc.write(socket, $0.baseAddress, $0.count) }) == line.count else { return false }
        var reply: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 64)
        while !reply.contains(UInt8(ascii: "\n")) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return false }
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let milliseconds = Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            guard poll(&descriptor, 1, max(milliseconds, 1)) >= 0 || errno == EINTR else { return false }
            guard descriptor.revents != 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(socket, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            reply.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: reply, as: UTF8.self).hasPrefix(Self.answer)
    }

    // MARK: the keeper's side

    /// The keeper's main: checks that every namespace is one its parent made, then waits
    /// on `input` for the request (or end of file), removes them and answers. Returns the
    /// exit status.
    public static func serve(namespaces: [String], input: CInt = STDIN_FILENO) -> Int32 {
        let parent = getppid()
        for namespace in namespaces where Sandbox.ownerPID(of: namespace, prefix: Sandbox.defaultPrefix) != parent {
            warn("refusing to keep '\(namespace)': not a sandbox of process \(parent)")
            return 2
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 {  // the parent is gone without asking
                remove(namespaces)
                return 0
            }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line == request {
                    remove(namespaces)
                    reply(answer, to: input)
                    return 0
                }
                reply("refused: the only request is '\(request)'", to: input)
            }
            if pending.count > 256 {  // no request is that long
                reply("refused: line too long", to: input)
                pending.removeAll()
            }
        }
    }

    private static func remove(_ namespaces: [String]) {
        guard let ip = ChildProcess.locate("ip") else {
            warn("'ip' was not found: cannot remove \(namespaces.joined(separator: ", "))")
            return
        }
        for namespace in namespaces {
            let output = try? ChildProcess.run([ip, "netns", "del", namespace])
            if output?.succeeded != true {
                warn("cannot remove sandbox \(namespace): \(output?.stderr.trimmingTrailingNewlines ?? "ip did not run")")
            }
        }
    }

    private static func reply(_ text: String, to descriptor: CInt) {
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
    }

    private static func warn(_ text: String) {
        let line = Array("tapir sandbox-keeper: \(text)\n".utf8)
        _ = line.withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
