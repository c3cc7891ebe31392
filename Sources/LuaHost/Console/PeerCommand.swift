import Devices
import Glibc
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
    private var exitStatus: Int32?
    private var reapTimer: TimerID?

    init(_ command: String, namespace: String, loop: EventLoop, editor: LineEditor,
         onFinish: @escaping (PeerCommand) -> Void) throws(DeviceError) {
        guard let ip = ChildProcess.locate("ip") else {
            throw .programNotFound(program: "ip", hint: "install iproute2")
        }
        self.command = command
        self.loop = loop
        self.editor = editor
        self.onFinish = onFinish
        let pipe = try Spawn.pipe()
        let arguments = [ip, "netns", "exec", namespace, "/bin/sh", "-c", command]
        let childPID: pid_t
        do {
            childPID = try Spawn.start(path: ip, arguments: arguments, stdout: pipe.write, stderr: pipe.write,
                                       ownProcessGroup: true)
        } catch {
            Glibc.close(pipe.read); Glibc.close(pipe.write)
            throw error
        }
        Glibc.close(pipe.write)
        pid = childPID
        _ = fcntl(pipe.read, F_SETFL, O_NONBLOCK)
        output = FileDescriptor(rawValue: pipe.read)
        do {
            try loop.register(output) { [weak self] _ in self?.readAvailable() }
        } catch {
            kill(childPID, SIGKILL)
            try? output.close()
            isReading = false
            reap(blocking: true)
            throw .system(operation: "epoll_ctl", errno: EINVAL)
        }
    }

    deinit {
        terminate()
    }

    /// Ends the command (at the console's end) and reaps it.
    func terminate() {
        if exitStatus == nil {
            kill(pid, SIGTERM)
            stopReading()
            reap(blocking: true)
        }
        if let reapTimer { loop.cancel(reapTimer) }
        reapTimer = nil
    }

    private func readAvailable() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while isReading {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(output.rawValue, $0.baseAddress, $0.count) }
            if count > 0 {
                printLines(chunk[0..<count])
            } else if count == 0 {
                return finish()
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                return
            } else {
                return finish()
            }
        }
    }

    private func printLines(_ bytes: ArraySlice<UInt8>) {
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
            if let status = exitStatus, status != 0 { editor.print("[peer: \(command): exit \(status)]") }
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
        try? output.close()
    }

    private func reap(blocking: Bool) {
        guard exitStatus == nil else { return }
        var status: CInt = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { break }
            if result < 0 && errno == EINTR { continue }
            if result < 0 { exitStatus = -1 }
            return
        }
        let signal = status & 0x7f
        exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
