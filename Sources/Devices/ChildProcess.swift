import Glibc
import Kernel

/// What a finished child process left.
public struct ProcessOutput: Sendable, Equatable {
    /// The exit status, or 128 + the signal number when killed by a signal.
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// True when the child ran past its timeout and was killed.
    public var timedOut: Bool

    public var succeeded: Bool { status == 0 && !timedOut }
}

/// A child process started with posix_spawn (`Syscalls.spawn`), its stdout and stderr
/// captured through pipes.
///
/// The child starts with an empty signal mask and default signal dispositions: the host
/// blocks SIGINT/SIGTERM/SIGHUP on its threads, and a child must not inherit that.
/// Its stdin is /dev/null. Used from one thread.
public final class ChildProcess {
    public let pid: pid_t
    public let command: String
    private var outputPipe: CInt
    private var errorPipe: CInt
    private var stdoutBytes: [UInt8] = []
    private var stderrBytes: [UInt8] = []
    private var exitStatus: Int32?

    /// Starts `arguments[0]` (looked up in PATH, /usr/sbin and /sbin unless it holds a '/').
    public static func spawn(_ arguments: [String]) throws(DeviceError) -> ChildProcess {
        guard let program = arguments.first else { throw .emptyCommand }
        guard let path = locate(program) else {
            throw .programNotFound(program: program, hint: "install it, or put it in PATH")
        }
        do {
            return try ChildProcess(path: path, arguments: arguments)
        } catch {
            throw .system(error)
        }
    }

    /// Runs a command to the end, killing it (SIGKILL) after `timeout`.
    public static func run(_ arguments: [String], timeout: Duration = .seconds(10)) throws(DeviceError) -> ProcessOutput {
        try spawn(arguments).wait(timeout: timeout)
    }

    /// The full path of an executable, searched in PATH then /usr/sbin, /sbin.
    public static func locate(_ program: String) -> String? {
        if program.contains("/") { return Syscalls.isExecutable(program) ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + program
            if Syscalls.isExecutable(candidate) { return candidate }
        }
        return nil
    }

    private init(path: String, arguments: [String]) throws(SystemError) {
        command = arguments.joined(separator: " ")
        let output = try Syscalls.pipe()
        let errors: (read: CInt, write: CInt)
        do {
            errors = try Syscalls.pipe()
        } catch {
            Syscalls.close(output.read); Syscalls.close(output.write)
            throw error
        }
        defer {
            Syscalls.close(output.write)
            Syscalls.close(errors.write)
        }
        do {
            try Syscalls.setNonBlocking(output.read)
            try Syscalls.setNonBlocking(errors.read)
            pid = try Syscalls.spawn(path: path, arguments: arguments, stdout: output.write, stderr: errors.write)
        } catch {
            Syscalls.close(output.read); Syscalls.close(errors.read)
            throw error
        }
        outputPipe = output.read
        errorPipe = errors.read
    }

    deinit {
        if exitStatus == nil {
            Syscalls.kill(pid, SIGKILL)
            reap(blocking: true)
        }
        closePipes()
    }

    /// True once the child has exited (reaped without blocking); collects pending output.
    public var hasExited: Bool {
        collectOutput()
        if exitStatus == nil { reap(blocking: false) }
        return exitStatus != nil
    }

    /// Sends a signal to the child (if it is still running).
    public func signal(_ signal: CInt) {
        if exitStatus == nil { Syscalls.kill(pid, signal) }
    }

    /// Waits for the child to exit and its output to end, killing it after `timeout`.
    public func wait(timeout: Duration = .seconds(10)) -> ProcessOutput {
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        while true {
            collectOutput()
            if exitStatus == nil { reap(blocking: false) }
            let pipesOpen = outputPipe >= 0 || errorPipe >= 0
            // Once the child is gone, a grandchild may still hold the pipes: stop anyway.
            if exitStatus != nil { break }
            let remaining = ContinuousClock.now.duration(to: deadline)
            if remaining <= .zero {
                timedOut = true
                Syscalls.kill(pid, SIGKILL)
                reap(blocking: true)
                collectOutput()
                break
            }
            let milliseconds = Int32(min(50, max(1, remaining.components.seconds * 1000
                                                  + remaining.components.attoseconds / 1_000_000_000_000_000)))
            if pipesOpen {
                // A closed pipe (-1) is skipped by poll.
                var fds = [pollfd(fd: outputPipe, events: 0, revents: 0), pollfd(fd: errorPipe, events: 0, revents: 0)]
                _ = try? Syscalls.pollReadable(&fds, milliseconds: milliseconds)
            } else {
                usleep(UInt32(milliseconds) * 1000)
            }
        }
        collectOutput()
        closePipes()
        return ProcessOutput(status: exitStatus ?? -1,
                             stdout: String(decoding: stdoutBytes, as: UTF8.self),
                             stderr: String(decoding: stderrBytes, as: UTF8.self),
                             timedOut: timedOut)
    }

    private func reap(blocking: Bool) {
        exitStatus = Syscalls.reap(pid, blocking: blocking)
    }

    private func collectOutput() {
        drain(&outputPipe, into: &stdoutBytes)
        drain(&errorPipe, into: &stderrBytes)
    }

    private func drain(_ fd: inout CInt, into bytes: inout [UInt8]) {
        guard fd >= 0 else { return }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            // Nothing more for now (nil), or an error reading a pipe: try again later.
            guard let count = chunk.withUnsafeMutableBytes({ try? Syscalls.readNonBlocking(fd, into: $0) })
            else { return }
            if count == 0 {
                Syscalls.close(fd)
                fd = -1
                return
            }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    private func closePipes() {
        if outputPipe >= 0 { Syscalls.close(outputPipe); outputPipe = -1 }
        if errorPipe >= 0 { Syscalls.close(errorPipe); errorPipe = -1 }
    }
}
