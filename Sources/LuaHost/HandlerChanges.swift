/// How many times a host's handlers changed: bumped when one of its scripts' states adds
/// or removes a handler, and when its list of scripts changes. Dispatch keeps what all
/// the scripts want as of one generation, and looks again only when this moved: one
/// comparison per packet. One per host, shared with its scripts' states; loop thread only.
final class HandlerChanges {
    private(set) var generation = 0
    /// Told of every change (the host's kernel filters follow the handlers).
    var onChange: (() -> Void)?

    func bump() {
        generation &+= 1
        onChange?()
    }
}
