import Glibc
import Kernel

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
        let ends: (CInt, CInt)
        do {
            ends = try Syscalls.socketPair()
        } catch {
            throw .system(error)
        }
        defer { Syscalls.close(ends.1) }
        let pid: pid_t
        do {
            // Its messages go to our standard error; standard output may carry a recording.
            pid = try Syscalls.spawn(path: executable, arguments: [executable] + arguments + namespaces,
                                     stdin: ends.1, stdout: STDERR_FILENO, stderr: STDERR_FILENO,
                                     ownProcessGroup: true)
        } catch {
            Syscalls.close(ends.0)
            throw .system(error)
        }
        return SandboxKeeper(pid: pid, socket: ends.0)
    }

    private init(pid: pid_t, socket: CInt) {
        self.pid = pid
        self.socket = socket
    }

    deinit {
        if socket >= 0 { Syscalls.close(socket) }
    }

    /// Asks the keeper to remove the namespaces and waits for its answer, at most
    /// `timeout`. True when it said they are removed. Idempotent.
    @discardableResult
    public func removeSandboxes(timeout: Duration = .seconds(15)) -> Bool {
        guard !finished else { return true }
        finished = true
        defer {
            Syscalls.close(socket)
            socket = -1
            _ = Syscalls.reap(pid, blocking: false)
        }
        guard (try? Syscalls.writeAll(socket, Array((Self.request + "\n").utf8))) != nil else { return false }
        var reply: [UInt8] = []
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 64)
        while !reply.contains(UInt8(ascii: "\n")) {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { return false }
            var descriptors = [pollfd(fd: socket, events: 0, revents: 0)]
            let milliseconds = Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)
            guard let ready = try? Syscalls.pollReadable(&descriptors, milliseconds: max(milliseconds, 1)) else { return false }
            guard ready else { continue }
            // The socket is blocking: poll said there is something (or end of file).
            let count: Int
            do {
                guard let read = try buffer.withUnsafeMutableBytes({ try Syscalls.readNonBlocking(socket, into: $0) })
                else { continue }
                count = read
            } catch {
                return false
            }
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
        let parent = Syscalls.parentProcessID
        for namespace in namespaces where Sandbox.ownerPID(of: namespace, prefix: Sandbox.defaultPrefix) != parent {
            warn("refusing to keep '\(namespace)': not a sandbox of process \(parent)")
            return 2
        }
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            // A blocking read: nil (EAGAIN) cannot come; an error is taken as end of file.
            let count = buffer.withUnsafeMutableBytes { (try? Syscalls.readNonBlocking(input, into: $0)) ?? 0 }
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
        _ = try? Syscalls.writeAll(descriptor, Array((text + "\n").utf8))
    }

    private static func warn(_ text: String) {
        _ = try? Syscalls.writeAll(STDERR_FILENO, Array("tapir sandbox-keeper: \(text)\n".utf8))
    }
}
