import Capture
import CLua
import Devices
import Glibc
import Packets
import Reactor

/// The Lua prompt of `tapir console`: lines from the `LineEditor` (one more fd in the
/// event loop, so packets keep flowing while the user types) are evaluated in one
/// script's Lua state, where `lua/tapir/console.lua` defines the helpers (sniff, show,
/// hexdump, send, handlers, stats, reload, peer, next). A chunk the compiler finds
/// incomplete switches to the `>> ` prompt and gathers lines, as `lua -i` does.
///
/// While a chunk runs the loop does not turn; Ctrl-C then reaches a signal handler that
/// stops the chunk ("interrupted!", as lua.c does). At the prompt SIGINT comes through the
/// loop: call `interruptAtPrompt()` from the loop's SIGINT handler.
///
/// Used on the loop thread only.
public final class ConsoleSession {
    public static let prompt = "> "
    public static let continuationPrompt = ">> "

    public let host: TapirHost
    public let editor: LineEditor
    let loop: EventLoop
    /// The script whose state the prompt evaluates in, found again by path after a reload.
    private let scriptPath: String
    private var script: Script?
    private var evalFunction: LuaReference?
    private var keepFunction: LuaReference?
    private var completeFunction: LuaReference?
    /// What console.lua's complete() answered last.
    private var completion = LineCompletion.none
    /// The lines of a chunk not complete yet.
    private var pendingLines: [String] = []
    /// A chunk is waiting (sr1, ping, ...): lines typed meanwhile wait in `heldLines`, and
    /// end of input waits for it too.
    private var chunkWaiting = false
    private var heldLines: [String] = []
    private var endAfterChunk = false
    /// The namespace `peer` runs commands in (the sandbox), if any.
    public var sandboxNamespace: String?
    /// Why `peer` is refused even with a sandbox (tapir dropped the root that entering the
    /// sandbox needs), if it is.
    public var peerRefusal: String?
    /// The tshark dissect() runs (nil: not installed).
    public var tsharkPath: String? = ChildProcess.locate("tshark")
    /// docs/lua-api.md, which `help` prints from (nil: not installed).
    public var apiReferencePath: String?
    private lazy var apiReference: APIReference? = apiReferencePath.flatMap { APIReference(path: $0) }
    /// The capture `next()` steps through (tapir console --replay), if any.
    public var replay: ConsoleReplay?
    /// Called once at end of input (Ctrl-D).
    public var onEnd: (() -> Void)?
    private(set) lazy var sniffer = ConsoleSniffer(host: host, loop: loop, editor: editor)
    private var peers: [PeerCommand] = []
    private var lastPeerNumber = 0
    /// What the peers run with {wait = true} left when they ended: their number, then
    /// the exit status and output, for the chunk waiting on them.
    private var finishedPeers: [Int: (status: Int32, output: [UInt8])] = [:]
    /// What the last native request answered, kept for C to copy.
    private var replyBuffer: [CChar] = []

    /// - Parameter script: the script the prompt evaluates in (the first one given, or an
    ///   empty one of the console's own).
    public init(host: TapirHost, loop: EventLoop, editor: LineEditor, script: Script) {
        self.host = host
        self.loop = loop
        self.editor = editor
        self.scriptPath = script.path
    }

    /// Loads the console prelude into the script's state and starts reading lines.
    public func start() throws {
        try currentScript()
        editor.completer = { [unowned self] line in self.complete(line) }
        try editor.attach(to: loop) { [unowned self] line in
            guard let line else {
                if self.chunkWaiting { self.endAfterChunk = true } else { self.onEnd?() }
                return
            }
            if self.chunkWaiting {
                self.heldLines.append(line)
                return
            }
            self.enter(line)
        }
    }

    /// Stops reading, stops sniffing, ends the peers still running.
    public func stop() {
        editor.detach()
        sniffer.stop(report: false)
        for peer in peers { peer.terminate() }
        peers.removeAll()
    }

    /// SIGINT at the prompt: the line being typed and any gathered lines are dropped.
    public func interruptAtPrompt() {
        if !peers.isEmpty {
            // Ctrl-C stops what peer() started, as it would stop a command in a shell.
            for peer in peers { peer.terminate() }
            editor.print("stopped \(peers.count) peer command(s)")
            peers.removeAll()
        }
        if chunkWaiting {
            // The waiting chunk is dropped: its task's answer will not be used.
            chunkWaiting = false
            heldLines.removeAll()
            if let script, let abandon = try? script.state.evaluate("return require('tapir.console').abandon") {
                _ = try? script.state.call(abandon)
                script.state.release(abandon)
            }
            editor.print("interrupted!")
            if endAfterChunk { onEnd?() }
        }
        pendingLines.removeAll()
        editor.setPrompt(Self.prompt)
        editor.cancelLine()
    }

    /// One line typed at the prompt.
    public func enter(_ line: String) {
        pendingLines.append(line)
        let incomplete = evaluate(pendingLines.joined(separator: "\n"))
        if incomplete {
            editor.setPrompt(Self.continuationPrompt)
        } else {
            pendingLines.removeAll()
            editor.setPrompt(Self.prompt)
        }
    }

    /// Runs a chunk at the prompt; true when it is incomplete. Console chunks have no
    /// instruction budget (Ctrl-C stops them instead).
    @discardableResult
    public func evaluate(_ source: String) -> Bool {
        let script: Script
        do {
            script = try currentScript()
        } catch {
            editor.print("console: \(error)")
            return false
        }
        guard let evalFunction else { return false }
        let state = script.state
        let budget = state.instructionBudget
        state.instructionBudget = 0
        clua_console_arm_interrupt(state.host)
        defer {
            clua_console_disarm_interrupt()
            state.instructionBudget = budget
        }
        do {
            return try state.call(evalFunction, with: [.string(source)])
        } catch {
            editor.print("\(error)")
            return false
        }
    }

    /// dissect(pkt): tshark's full dissection (-V) of one frame, written to a one-packet
    /// capture first. tshark runs to its end (a second or so) while the loop waits.
    private func dissect(hex: String, rawIP: Bool) throws(RequestError) -> String {
        guard let tshark = tsharkPath else {
            throw .refused("dissect needs tshark, Wireshark's dissectors: apt-get install tshark (or dnf install wireshark-cli)")
        }
        var bytes: [UInt8] = []
        var digits = hex.utf8.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            guard let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { break }
            bytes.append(value)
        }
        let path = "/tmp/tapir-dissect-\(getpid()).pcap"
        defer { unlink(path) }
        do {
            let writer = try PcapWriter(path: path, linkType: rawIP ? .rawIP : .ethernet)
            try writer.write(bytes, time: host.recordingClock())
            try writer.close()
        } catch {
            throw .refused("dissect: \(error)")
        }
        let result: ProcessOutput
        do {
            result = try ChildProcess.run([tshark, "-V", "-r", path], timeout: .seconds(30))
        } catch {
            throw .refused("dissect: \(error)")
        }
        guard result.succeeded else { throw .refused("dissect: tshark failed: \(result.stderr)") }
        var text = result.stdout
        while text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    /// The waiting chunk finished: the lines typed meanwhile run, until one waits again.
    private func chunkDone() {
        chunkWaiting = false
        while !chunkWaiting, !heldLines.isEmpty {
            enter(heldLines.removeFirst())
        }
        if !chunkWaiting, endAfterChunk { onEnd?() }
    }

    /// The script evaluated in; after a reload (a fresh state) the prelude is loaded
    /// into the new state first.
    @discardableResult
    private func currentScript() throws(LuaError) -> Script {
        guard let current = host.scripts.first(where: { $0.path == scriptPath }) else {
            throw LuaError(kind: .runtime, message: "the console's script \(scriptPath) is gone")
        }
        if current !== script {
            try install(into: current)
            script = current
        }
        return current
    }

    private func install(into script: Script) throws(LuaError) {
        let state = script.state
        // Over a capture the host's clock moves only with next(), and with it the tasks
        // that would carry a chunk on: chunks there run whole, as before.
        let slicing = replay == nil ? "__tapir_console_slice" : "nil"
        var result = clua_result()
        let status = clua_console_install(state.host, consoleRequest,
                                          Unmanaged.passUnretained(self).toOpaque(), &result)
        defer { clua_result_release(state.host, &result) }
        if status != LUA_OK { throw LuaError(result: result, memoryCap: state.memoryCap) }
        evalFunction = try state.evaluate("""
            local console = require("tapir.console")
            console.install(__tapir_console_native, \(Self.layerFieldsLiteral), \(slicing))
            __tapir_console_native = nil
            __tapir_console_slice = nil
            return console.eval
            """, name: "console")
        keepFunction = try state.evaluate("return require('tapir.console').keep", name: "console")
        completeFunction = try state.evaluate("return require('tapir.console').complete", name: "console")
    }

    /// What Tab offers for the line up to the cursor: file names inside a string, else
    /// what console.lua's complete() finds.
    public func complete(_ line: String) -> LineCompletion {
        if let partial = ConsoleCompletion.openString(in: line) {
            return ConsoleCompletion.fileNames(completing: partial)
        }
        guard let script = try? currentScript(), let completeFunction else { return .none }
        completion = .none
        let state = script.state
        do {
            try state.call(completeFunction, with: [.string(line)])
        } catch {
            return .none
        }
        return completion
    }

    /// `{ order = {"eth", ...}, eth = {"src", ...}, ..., frame = {...}, builders = {ip = {...}, ...} }`:
    /// the layers and fields of the packet table, for show() and Tab, and what each
    /// builder takes (its layer's settable fields and payload).
    static let layerFieldsLiteral: String = {
        func list(_ names: [String]) -> String { "{" + names.map { "\"\($0)\"" }.joined(separator: ", ") + "}" }
        let layers = PacketLayer.allCases.filter { $0 != .frame }
        var parts = ["order = " + list(layers.map { "\($0)" })]
        var builders: [String] = []
        for layer in PacketLayer.allCases {
            let fields = PacketField.allCases.filter { $0.info.layer == layer }
            parts.append("[\"\(layer)\"] = " + list(fields.map { "\($0.info.name)" }))
            if layer != .frame {
                builders.append("[\"\(layer)\"] = " + list(fields.filter(\.info.settable).map { "\($0.info.name)" } + ["payload"]))
            }
        }
        parts.append("builders = {" + builders.joined(separator: ", ") + "}")
        return "{" + parts.joined(separator: ", ") + "}"
    }()

    // MARK: what console.lua asks the host

    /// A request refused, with the message raised in Lua.
    struct RequestError: Error {
        let message: String
        static func refused(_ message: String) -> RequestError { RequestError(message: message) }
    }

    /// Answers console.lua's native(operation, text, integer, number); a reply string or nil.
    func answer(_ operation: String, text: String?, integer: Int64?, number: Double?) throws(RequestError) -> String? {
        switch operation {
        case "write":
            editor.print(text ?? "")
            return nil
        case "sniff":
            do {
                try sniffer.start(filter: text, count: Int(integer ?? 0), seconds: number ?? 0)
            } catch {
                throw .refused("sniff: \(error)")
            }
            return nil
        case "reload":
            // After the chunk has returned: the state running it is the one replaced.
            loop.schedule(after: .zero) { [weak self] in
                guard let self else { return }
                self.host.reloadAll()
                self.editor.print("reloaded \(self.host.scripts.count) script(s)")
            }
            return nil
        case "peer":
            guard let sandboxNamespace else {
                throw .refused("peer runs commands in the sandbox: start tapir console without --dev or --replay")
            }
            if let peerRefusal { throw .refused(peerRefusal) }
            lastPeerNumber += 1
            do {
                let peer = try PeerCommand(text ?? "", number: lastPeerNumber, collects: integer == 1,
                                           namespace: sandboxNamespace, loop: loop, editor: editor) { [weak self] finished in
                    self?.peers.removeAll { $0 === finished }
                    if finished.collects {
                        self?.finishedPeers[finished.number] = (finished.exitStatus ?? -1, finished.collected)
                    }
                }
                peers.append(peer)
            } catch {
                throw .refused("peer: \(error)")
            }
            return String(lastPeerNumber)
        case "peerresult":
            // "status\noutput" once the peer numbered `integer` has ended.
            guard let number = integer.map(Int.init), let finished = finishedPeers.removeValue(forKey: number) else {
                return nil
            }
            return "\(finished.status)\n" + String(decoding: finished.output, as: UTF8.self)
        case "jobs":
            return peers.map { "[\($0.number)] \($0.pid) \($0.command)" }.joined(separator: "\n")
        case "kill":
            guard let peer = peers.first(where: { Int64($0.number) == integer }) else {
                throw .refused("kill: no peer command [\(integer ?? 0)] is running (jobs() lists them)")
            }
            peer.terminate()
            peers.removeAll { $0 === peer }
            return nil
        case "dissect":
            return try dissect(hex: text ?? "", rawIP: integer == 1)
        case "busy":
            chunkWaiting = true
            return nil
        case "done":
            // After this task's turn: the held lines run as if typed now.
            loop.schedule(after: .zero) { [weak self] in self?.chunkDone() }
            return nil
        case "completions":
            // console.lua's complete(): "stem length\ncandidate\n...".
            var lines = (text ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let stem = Int(lines.isEmpty ? "0" : lines.removeFirst()) ?? 0
            completion = LineCompletion(stemLength: stem, candidates: lines.filter { !$0.isEmpty })
            return nil
        case "help":
            guard let reference = apiReference else {
                throw .refused("help: the API reference is not installed (looked for \(apiReferencePath ?? "docs/lua-api.md"))")
            }
            guard let name = text else {
                return reference.entries.filter { $0.section == APIReference.consoleSection }
                    .map { "\($0.name)\t\($0.text)" }.joined(separator: "\n")
            }
            return reference.helpText(name)
        case "next":
            guard let replay else {
                throw .refused("next() steps through a capture: start tapir console --replay FILE.pcap")
            }
            guard let script, let keepFunction else { return nil }
            let stepped = replay.step(host: host) { bytes, frame, device in
                script.bind(bytes, frame, device)
                defer { script.unbind() }
                _ = try? script.state.call(keepFunction, with: [script.packetArgument])
            }
            return stepped ? "1" : nil
        default:
            throw .refused("unknown console request \(operation)")
        }
    }

    fileprivate func reply(_ text: String?, into reply: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                           length: UnsafeMutablePointer<Int>?) {
        guard let text else { return }
        replyBuffer = Array(text.utf8CString)
        replyBuffer.withUnsafeBufferPointer { buffer in
            reply?.pointee = buffer.baseAddress
            length?.pointee = buffer.count - 1
        }
    }
}

private func consoleRequest(context: UnsafeMutableRawPointer?, request: UnsafePointer<clua_console_request>?,
                            reply: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                            replyLength: UnsafeMutablePointer<Int>?,
                            error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let context, let request = request?.pointee else { return -1 }
    let session = Unmanaged<ConsoleSession>.fromOpaque(context).takeUnretainedValue()
    let operation = String(cString: request.operation, length: request.operation_length) ?? ""
    let text = request.text.flatMap { String(cString: $0, length: request.text_length) }
    do {
        let answer = try session.answer(operation, text: text,
                                        integer: request.has_integer != 0 ? request.integer : nil,
                                        number: request.has_number != 0 ? request.number : nil)
        session.reply(answer, into: reply, length: replyLength)
        return 0
    } catch let refusal {
        writeError(refusal.message, into: error)
        return -1
    }
}
