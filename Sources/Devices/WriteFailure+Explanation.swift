import Glibc

extension WriteFailure {
    /// What the failure means, for a log line: the errno's name and its usual cause.
    public var explanation: String {
        switch self {
        case .io: "Input/output error (EIO: the link is down)"
        case .noBuffers: "no buffer space (ENOBUFS: the kernel's queue is full)"
        case .wouldBlock: "the device would block (EAGAIN)"
        case .rejected: "the kernel refused the packet (EINVAL or EMSGSIZE: malformed, or larger than the MTU)"
        case .closed: "the device is closed"
        case .other(let code): "\(String(cString: strerror(code))) (errno \(code))"
        }
    }
}
