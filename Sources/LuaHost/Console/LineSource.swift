import Reactor

/// Where the console's lines come from: a terminal with line editing, or plain input
/// (a pipe, a file). Used on the loop thread only.
protocol LineSource: AnyObject {
    /// Starts reading; `deliver` gets each line, then nil once at end of input, after
    /// which the source reads no more. `history` is what up-arrow recalls, oldest first.
    func start(on loop: EventLoop, history: [String], deliver: @escaping (String?) -> Void) throws
    /// Stops reading and gives the terminal back as it was.
    func stop()
    func setPrompt(_ prompt: String)
    /// Called for every line the editor keeps in its history.
    func addToHistory(_ line: String)
    /// Writes `text` to the output without disturbing the line being typed.
    func print(_ text: String)
    /// Drops the line being typed and starts a fresh one.
    func cancelLine()
    func terminalResized()
}
