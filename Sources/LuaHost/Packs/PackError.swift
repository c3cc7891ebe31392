/// A pack that cannot be read, configured, loaded or tested; the message names the file
/// and the field, or the setting, the value and the type expected.
public struct PackError: Error, CustomStringConvertible, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
