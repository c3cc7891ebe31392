import Glibc
import Kernel
import Reactor
import SystemPackage

/// Lines read from input that is not a terminal (a pipe, a file): no prompt, no
/// editing, no escape sequences, so scripts can be piped into the console.
final class PlainLineInput: LineSource {
    private let input: FileDescriptor
    private let output: FileDescriptor
    private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
    /// Bytes read but not yet ended by a newline.
    private var partialLine: [UInt8] = []
    private weak var loop: EventLoop?
    private var deliver: ((String?) -> Void)?
    private var isRegistered = false
    private var readTimer: TimerID?

    init(input: FileDescriptor, output: FileDescriptor) {
        self.input = input
        self.output = output
    }

    deinit {
        stop()
        chunk.deallocate()
    }

    func start(on loop: EventLoop, history: [String],
               deliver: @escaping (String?) -> Void) throws {
        self.loop = loop
        self.deliver = deliver
        partialLine.removeAll()
        do {
            try loop.register(input) { [weak self] _ in self?.readAvailable() }
            isRegistered = true
        } catch let error as SystemError where error.errno == .notPermitted {
            // epoll refuses regular files and /dev/null; they are always readable, so
            // read a chunk on each turn of the loop instead.
            scheduleRead(on: loop)
        }
    }

    func stop() {
        deliver = nil
        if isRegistered { loop?.deregister(input) }
        isRegistered = false
        if let readTimer { loop?.cancel(readTimer) }
        readTimer = nil
        loop = nil
    }

    func setPrompt(_ prompt: String) {}

    func addToHistory(_ line: String) {}

    func print(_ text: String) {
        _ = try? output.writeAll(text.utf8)
        if !text.hasSuffix("\n") { _ = try? output.writeAll("\n".utf8) }
    }

    func cancelLine() {
        partialLine.removeAll()
    }

    func terminalResized() {}

    private func scheduleRead(on loop: EventLoop) {
        readTimer = loop.schedule(after: .zero) { [weak self] in
            guard let self else { return }
            self.readTimer = nil
            self.readAvailable()
            if self.deliver != nil, let loop = self.loop { self.scheduleRead(on: loop) }
        }
    }

    private func readAvailable() {
        let count: Int
        do {
            count = try input.read(into: chunk)
        } catch Errno.resourceTemporarilyUnavailable {
            return
        } catch Errno.interrupted {
            return
        } catch {
            count = 0  // an input that fails is at its end
        }
        if count == 0 { return finish() }

        var lineStart = 0
        for index in 0..<count where chunk[index] == UInt8(ascii: "\n") {
            partialLine.append(contentsOf: chunk[lineStart..<index])
            lineStart = index + 1
            if partialLine.last == UInt8(ascii: "\r") { partialLine.removeLast() }
            let line = String(decoding: partialLine, as: UTF8.self)
            partialLine.removeAll(keepingCapacity: true)
            deliver?(line)
            guard deliver != nil else { return }  // the callback stopped us
        }
        partialLine.append(contentsOf: chunk[lineStart..<count])
    }

    private func finish() {
        if !partialLine.isEmpty {
            let last = String(decoding: partialLine, as: UTF8.self)
            partialLine.removeAll()
            deliver?(last)
        }
        let deliver = self.deliver  // nil when the callback stopped us
        stop()
        deliver?(nil)
    }
}
