import SystemPackage

/// A system call that failed: which call, on what, and the errno it set, as SwiftNIO's
/// `IOError` carries them. The one error type the kernel boundary throws; the layers above
/// wrap it (`DeviceError.system`) or explain the errnos a user can act on, never reading
/// `errno` themselves.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The call and what it was for: "epoll_ctl(ADD) of fd 7", "posix_spawn /usr/sbin/ip".
    public let operation: String
    public let errno: Errno

    /// Traps when `errno` is a programming error (`Errno.isProgrammingError`): such a call
    /// was made on a descriptor or an address that is not the caller's, and the kernel
    /// cannot be blamed for it.
    public init(operation: String, errno: Errno) {
        Errno.preconditionAcceptable(errno, operation)
        self.operation = operation
        self.errno = errno
    }

    /// "epoll_wait failed: Bad address (errno 14)".
    public var description: String {
        "\(operation) failed: \(errno.explained)"
    }
}

extension Errno {
    /// EBADF and EFAULT: the call was handed a descriptor that is not open (closed twice,
    /// never opened) or an address outside the process. Only a bug in Tapir does that; the
    /// kernel never reports a device deleted under an open descriptor this way (that is
    /// EBADFD, EIO, ENXIO, ENODEV...). SwiftNIO's `isUnacceptableErrno` draws the same line.
    public var isProgrammingError: Bool {
        self == .badFileDescriptor || self == .badAddress
    }

    /// Stops the process on an errno that means a bug in the caller (see
    /// `isProgrammingError`), naming the call; any other errno is left for the caller.
    public static func preconditionAcceptable(_ errno: Errno, _ operation: @autoclosure () -> String,
                                              file: StaticString = #fileID, line: UInt = #line) {
        precondition(!errno.isProgrammingError,
                     "\(operation()) failed with \(errno.explained): a bug in Tapir, not a kernel condition",
                     file: file, line: line)
    }

    /// "Input/output error (errno 5)": the C library's text and the number, for messages.
    public var explained: String {
        "\(description) (errno \(rawValue))"
    }
}
