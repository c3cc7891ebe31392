import Devices
import Glibc
import Kernel
import Reactor
import SystemPackage

/// The console's `peer("ping -c1 198.18.0.2")`: a shell command run inside the sandbox's
/// namespace (`ip netns exec NS sh -c COMMAND`), its output (stdout and stderr) printed
/// through the line editor line by line as it comes. The read end of its pipe is one more
/// fd in the event loop, so the loop keeps answering the command's packets meanwhile.
/// The child starts with an empty signal mask and default dispositions (the host blocks
/// SIGINT/SIGTERM/SIGHUP), stdin /dev/null; it is reaped when its output ends.
final class PeerCommand {
    let pid: pid_t
    let command: String
    private let output: FileDescriptor
    private unowned let loop: EventLoop
    private unowned let editor: LineEditor
    private let onFinish: (PeerCommand) -> Void
    private var partialLine: [UInt8] = []
    private var isReading = true
    private(set) var exitStatus: Int32?
    /// The number jobs() and kill(n) know it by.
    let number: Int
    /// Keeps the output for the caller (peer(cmd, {wait = true})) instead of printing it.
    let collects: Bool
    private(set) var collected: [UInt8] = []
    private var reapTimer: TimerID?

    /// Throws `DeviceError.programNotFound` without `ip`, and the `SystemError` of the call
    /// that failed otherwise.
    init(_ command: String, number: Int, collects: Bool = false, namespace: String, loop: EventLoop,
         editor: LineEditor, onFinish: @escaping (PeerCommand) -> Void) throws {
        self.number = number
        self.collects = collects
        guard let ip = ChildProcess.locate("ip") else {
            throw DeviceError.programNotFound(program: "ip", hint: "install iproute2")
        }
        self.command = command
        self.loop = loop
        self.editor = editor
        self.onFinish = onFinish
        let pipe = try Syscalls.pipe()
        let arguments = [ip, "netns", "exec", namespace, "/bin/sh", "-c", command]
        let childPID: pid_t
        do {
            try Syscalls.setNonBlocking(pipe.read)
            childPID = try Syscalls.spawn(path: ip, arguments: arguments, stdout: pipe.write, stderr: pipe.write,
                                          ownProcessGroup: true)
        } catch {
            Syscalls.close(pipe.read); Syscalls.close(pipe.write)
            throw error
        }
        Syscalls.close(pipe.write)
        pid = childPID
        output = FileDescriptor(rawValue: pipe.read)
        do {
            try loop.register(output) { [weak self] _ in self?.readAvailable() }
        } catch {
            Syscalls.kill(childPID, SIGKILL)
            Syscalls.close(pipe.read)
            isReading = false
            reap(blocking: true)
            throw error
        }
    }

    deinit {
        terminate()
    }

    /// Ends the command (at the console's end) and reaps it.
    func terminate() {
        if exitStatus == nil {
            Syscalls.kill(pid, SIGTERM)
            stopReading()
            reap(blocking: true)
        }
        if let reapTimer { loop.cancel(reapTimer) }
        reapTimer = nil
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while isReading {
            let count: Int?
            do {
                count = try chunk.withUnsafeMutableBytes { try Syscalls.readNonBlocking(output.rawValue, into: $0) }
            } catch {
                return finish()  // the pipe failed: as good as ended
            }
            guard let count else { return }  // nothing more for now
            if count == 0 { return finish() }
            printLines(chunk[0..<count])
        }
    }

    private func printLines(_ bytes: ArraySlice<UInt8>) {
        if collects {
            collected.append(contentsOf: bytes)
            return
        }
        var start = bytes.startIndex
        for index in bytes.indices where bytes[index] == UInt8(ascii: "\n") {
            partialLine.append(contentsOf: bytes[start..<index])
            editor.print(String(decoding: partialLine, as: UTF8.self))
            partialLine.removeAll(keepingCapacity: true)
            start = index + 1
        }
        partialLine.append(contentsOf: bytes[start..<bytes.endIndex])
    }

    /// Output ended: print what is left, then reap (the child may take a moment to exit).
    private func finish() {
        if !partialLine.isEmpty {
            editor.print(String(decoding: partialLine, as: UTF8.self))
            partialLine.removeAll()
        }
        stopReading()
        reapWhenExited(attempt: 0)
    }

    private func reapWhenExited(attempt: Int) {
        reap(blocking: attempt >= 100)
        guard exitStatus == nil else {
            if let status = exitStatus, status != 0, !collects { editor.print("[peer: \(command): exit \(status)]") }
            onFinish(self)
            return
        }
        reapTimer = loop.schedule(after: .milliseconds(20)) { [weak self] in
            self?.reapTimer = nil
            self?.reapWhenExited(attempt: attempt + 1)
        }
    }

    private func stopReading() {
        guard isReading else { return }
        isReading = false
        _ = loop.deregister(output)
        Syscalls.close(output.rawValue)
    }

    private func reap(blocking: Bool) {
        guard exitStatus == nil else { return }
        exitStatus = Syscalls.reap(pid, blocking: blocking)
    }
}
