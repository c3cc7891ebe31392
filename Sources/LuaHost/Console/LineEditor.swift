import Glibc
import Reactor
import SystemPackage

/// The console's input line: read from the event loop one key at a time, so packets
/// keep flowing while the user types.
///
/// On a terminal (input and output both ttys) it edits lines through libedit (emacs
/// keys, history on up-arrow, the prompt), keeps the history in a file, and `print`
/// writes above the line being typed without breaking it. Otherwise (piped input,
/// output to a file) it reads plain lines, with no prompt and no escape sequences.
///
/// Used on the loop thread only (the loop's own rule).
public final class LineEditor {
    /// How many history entries are kept unless told otherwise.
    public static let defaultHistoryLimit = 1000

    /// `~/.tapir_history`, or nil when $HOME is not set.
    public static var defaultHistoryPath: String? {
        guard let home = getenv("HOME").map({ String(cString: $0) }), !home.isEmpty else {
            return nil
        }
        return home + (home.hasSuffix("/") ? "" : "/") + ".tapir_history"
    }

    /// Whether lines are edited on a terminal (else read plainly).
    public let isInteractive: Bool
    /// The history, oldest first (empty when not interactive).
    public var historyEntries: [String] { history.entries }
    /// The last failure to read or write the history file, for the caller to report;
    /// the editor carries on without the file.
    public private(set) var historyError: LineEditorError?

    /// What Tab offers, given the line up to the cursor (a terminal only).
    public var completer: ((String) -> LineCompletion)? {
        get { (source as? TerminalLineInput)?.completer }
        set { (source as? TerminalLineInput)?.completer = newValue }
    }

    private var history: LineHistory
    private let source: LineSource
    private var isAttached = false

    /// - Parameters:
    ///   - prompt: shown before each line (interactive only); `setPrompt` changes it.
    ///   - historyPath: the history file, created with mode 0600; nil keeps no history.
    ///   - input, output: the fds to read keys from and draw on (stdin and stdout by
    ///     default); they stay the caller's and are never closed.
    ///   - terminalType: a terminfo name for the terminal, nil for $TERM.
    public init(prompt: String = "> ", historyPath: String?,
                input: FileDescriptor = .standardInput, output: FileDescriptor = .standardOutput,
                terminalType: String? = nil, historyLimit: Int = LineEditor.defaultHistoryLimit) {
        isInteractive = isatty(input.rawValue) == 1 && isatty(output.rawValue) == 1
        history = LineHistory(path: isInteractive ? historyPath : nil, limit: historyLimit)
        if isInteractive {
            source = TerminalLineInput(input: input, output: output, terminalType: terminalType,
                                       prompt: prompt, historyLimit: history.limit)
            do { try history.load() } catch { historyError = error }
        } else {
            source = PlainLineInput(input: input, output: output)
        }
    }

    deinit {
        source.stop()
    }

    /// Registers the input fd with `loop` and shows the prompt. `onLine` gets each line
    /// entered (without its newline), then nil once at end of input (Ctrl-D on an empty
    /// line, the input closed); after nil no more lines come: call `detach()`.
    /// Interactive lines that are not blank are added to the history and saved.
    public func attach(to loop: EventLoop, onLine: @escaping (String?) -> Void) throws {
        guard !isAttached else { throw LineEditorError.alreadyAttached }
        try source.start(on: loop, history: history.entries) { [unowned self] line in
            if let line { self.remember(line) }
            onLine(line)
        }
        isAttached = true
    }

    /// Stops reading and restores the terminal as it was before `attach`.
    public func detach() {
        guard isAttached else { return }
        isAttached = false
        source.stop()
    }

    /// Sets the prompt from the next line on (say `>> ` while a chunk is incomplete).
    public func setPrompt(_ prompt: String) {
        source.setPrompt(prompt)
    }

    /// Writes `text`, and a newline if it lacks one. On a terminal, while a line is being
    /// typed, the text goes above it and the prompt and line are drawn again as they
    /// were. All console output should go through here while attached: anything
    /// written to the terminal another way lands in the middle of the line.
    public func print(_ text: String) {
        source.print(text)
    }

    /// Drops the line being typed and shows a fresh prompt (the console's SIGINT handler).
    public func cancelLine() {
        source.cancelLine()
    }

    /// Re-reads the terminal's size (the console's SIGWINCH handler).
    public func terminalResized() {
        source.terminalResized()
    }

    private func remember(_ line: String) {
        guard isInteractive, history.add(line) else { return }
        source.addToHistory(line)
        do { try history.save() } catch { historyError = error }
    }
}

/// What Tab offers: the candidates, whole words, each replacing the last `stemLength`
/// bytes before the cursor (the part of the word already typed).
public struct LineCompletion: Equatable, Sendable {
    public var stemLength: Int
    public var candidates: [String]

    public init(stemLength: Int, candidates: [String]) {
        self.stemLength = stemLength
        self.candidates = candidates
    }

    public static let none = LineCompletion(stemLength: 0, candidates: [])
}
