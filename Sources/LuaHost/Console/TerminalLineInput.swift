import CEdit
import Glibc
import Reactor
import SystemPackage

/// Lines typed at a terminal, edited through libedit (the C side is `CEdit`): the
/// input fd is one more fd in the event loop, and each time it is readable the keys
/// waiting are executed, so the loop never waits for a whole line.
final class TerminalLineInput: LineSource {
    private let input: FileDescriptor
    private let output: FileDescriptor
    private let terminalType: String?
    private let historyLimit: Int
    private var prompt: String
    /// The libedit editor, while started.
    private var editor: OpaquePointer?
    private weak var loop: EventLoop?
    private var deliver: ((String?) -> Void)?
    /// What Tab offers for the text before the cursor (see LineEditor.completer).
    var completer: ((String) -> LineCompletion)?
    /// The last candidates handed to C, "a\nb\n", kept until the next Tab.
    fileprivate var completionText: [CChar] = [0]

    init(input: FileDescriptor, output: FileDescriptor, terminalType: String?,
         prompt: String, historyLimit: Int) {
        self.input = input
        self.output = output
        self.terminalType = terminalType
        self.prompt = prompt
        self.historyLimit = historyLimit
    }

    deinit {
        stop()
    }

    func start(on loop: EventLoop, history: [String],
               deliver: @escaping (String?) -> Void) throws {
        let opened = terminalType.withOptionalCString {
            tapir_editor_open("tapir", input.rawValue, output.rawValue, $0)
        }
        guard let opened else {
            throw LineEditorError.cannotUseTerminal(errno: Errno(rawValue: errno))
        }
        tapir_editor_history_set_size(opened, Int32(clamping: historyLimit))
        for line in history { _ = tapir_editor_history_add(opened, line) }
        _ = tapir_editor_set_prompt(opened, prompt)
        tapir_editor_set_completer(opened, completeBeforeCursor, Unmanaged.passUnretained(self).toOpaque())
        do {
            try loop.register(input) { [weak self] _ in self?.inputReady() }
        } catch {
            tapir_editor_close(opened)
            throw error
        }
        editor = opened
        self.loop = loop
        self.deliver = deliver
        tapir_editor_begin_line(opened)
    }

    func stop() {
        guard let editor else { return }
        self.editor = nil
        deliver = nil
        loop?.deregister(input)
        loop = nil
        tapir_editor_close(editor)
    }

    func setPrompt(_ prompt: String) {
        self.prompt = prompt
        if let editor { _ = tapir_editor_set_prompt(editor, prompt) }
    }

    func addToHistory(_ line: String) {
        if let editor { _ = tapir_editor_history_add(editor, line) }
    }

    func print(_ text: String) {
        guard let editor else { return write(text) }
        var text = text
        if !text.hasSuffix("\n") { text += "\n" }
        tapir_editor_hide(editor)
        // While a line is edited the terminal is in raw mode, which may stop turning
        // "\n" into "\r\n".
        if tapir_editor_output_translates_newlines(editor) == 0 {
            text = text.replacing("\n", with: "\r\n")
        }
        write(text)
        tapir_editor_show(editor)
    }

    func cancelLine() {
        if let editor { tapir_editor_cancel_line(editor) }
    }

    func terminalResized() {
        if let editor { tapir_editor_resize(editor) }
    }

    private func inputReady() {
        guard let editor else { return }
        var line: UnsafePointer<CChar>?
        var length = 0
        let status = tapir_editor_read(editor, &line, &length)
        switch status {
        case TAPIR_EDIT_LINE:
            let text = line.map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self)
            } ?? ""
            deliver?(text)
            // Unless the callback stopped us, the next line starts (restarting began one
            // already, and beginning twice does nothing).
            if let current = self.editor { tapir_editor_begin_line(current) }
        case TAPIR_EDIT_PENDING:
            break
        default:
            // End of input (Ctrl-D, the terminal gone) or a read error: either way no
            // more lines will come, and a hung-up fd would stay readable forever.
            let deliver = self.deliver
            loop?.deregister(input)
            self.deliver = nil
            deliver?(nil)
        }
    }

    private func write(_ text: String) {
        _ = try? output.writeAll(text.utf8)
    }
}

/// libedit's Tab, through CEdit: asks the input's completer.
private func completeBeforeCursor(context: UnsafeMutableRawPointer?, text: UnsafePointer<CChar>?, length: Int,
                                  stemLength: UnsafeMutablePointer<Int>?) -> UnsafePointer<CChar>? {
    guard let context, let text else { return nil }
    let input = Unmanaged<TerminalLineInput>.fromOpaque(context).takeUnretainedValue()
    guard let completer = input.completer else { return nil }
    let typed = String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    let completion = completer(typed)
    stemLength?.pointee = completion.stemLength
    input.completionText = Array(completion.candidates.map { $0 + "\n" }.joined().utf8CString)
    return input.completionText.withUnsafeBufferPointer { $0.baseAddress }
}

extension Optional where Wrapped == String {
    fileprivate func withOptionalCString<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        switch self {
        case let .some(string): return string.withCString(body)
        case .none: return body(nil)
        }
    }
}
