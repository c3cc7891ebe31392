import Glibc

/// What an errno from a device read or write means for the device. Shared by every
/// `PacketDevice`, so a memory device given an injected errno behaves as a real one.
enum DeviceErrno {
    enum ReadAction: Equatable {
        case retry
        case wouldBlock
        case gone
        /// Counted; the drain ends (level-triggered polling brings us back).
        case transient
    }

    enum WriteAction: Equatable {
        case retry
        case failed(WriteFailure)
        case gone
    }

    static func readAction(_ code: CInt) -> ReadAction {
        switch code {
        case EINTR: .retry
        case EAGAIN, EWOULDBLOCK: .wouldBlock
        case EBADFD, EBADF, EIO, ENXIO, ENODEV, EPIPE, ESHUTDOWN: .gone
        default: .transient
        }
    }

    static func writeAction(_ code: CInt) -> WriteAction {
        switch code {
        case EINTR: .retry
        case EAGAIN, EWOULDBLOCK: .failed(.wouldBlock)
        case ENOBUFS: .failed(.noBuffers)
        case EIO: .failed(.io)
        case EINVAL, EMSGSIZE: .failed(.rejected)
        case EBADFD, EBADF, ENXIO, ENODEV, EPIPE, ESHUTDOWN: .gone
        default: .failed(.other(code))
        }
    }

    /// "Input/output error (EIO)"-style text for messages.
    static func describe(_ code: CInt) -> String {
        let text = strerror(code).map { String(cString: $0) } ?? "error"
        return "\(text) (errno \(code))"
    }

    static func goneReason(device: String, code: CInt) -> String {
        "device \(device) is gone (deleted, or its namespace removed): \(describe(code))"
    }
}
