import Glibc
import Kernel
import SystemPackage

/// What an errno from a device read or write means for the device. Shared by every
/// `PacketDevice`, so a memory device given an injected errno behaves as a real one.
enum DeviceErrno {
    enum ReadAction: Equatable {
        case retry
        case wouldBlock
        case gone
        /// Counted; the drain ends (level-triggered polling brings us back).
        case transient
        /// EBADF, EFAULT (`Errno.isProgrammingError`): a bug in Tapir, never the device's
        /// doing; the device traps. The kernel says "device gone" with EBADFD, not EBADF.
        case programmingError
    }

    enum WriteAction: Equatable {
        case retry
        case failed(WriteFailure)
        case gone
        /// As for reads.
        case programmingError
    }

    static func readAction(_ code: CInt) -> ReadAction {
        if Errno(rawValue: code).isProgrammingError { return .programmingError }
        return switch code {
        case EINTR: .retry
        case EAGAIN, EWOULDBLOCK: .wouldBlock
        case EBADFD, EIO, ENXIO, ENODEV, EPIPE, ESHUTDOWN: .gone
        default: .transient
        }
    }

    static func writeAction(_ code: CInt) -> WriteAction {
        if Errno(rawValue: code).isProgrammingError { return .programmingError }
        return switch code {
        case EINTR: .retry
        case EAGAIN, EWOULDBLOCK: .failed(.wouldBlock)
        case ENOBUFS: .failed(.noBuffers)
        case EIO: .failed(.io)
        case EINVAL, EMSGSIZE: .failed(.rejected)
        case EBADFD, ENXIO, ENODEV, EPIPE, ESHUTDOWN: .gone
        default: .failed(.other(code))
        }
    }

    /// What a write that failed with `code` comes to, counted in `counters`; nil: make it
    /// again (EINTR). A `.gone` result carries the reason the device should keep.
    static func writeResult(after code: CInt, call: String, device: String,
                            counters: inout DeviceCounters) -> WriteResult? {
        switch writeAction(code) {
        case .retry:
            return nil
        case .failed(let kind):
            counters.recordWriteFailure(kind)
            return .failed(kind)
        case .gone:
            counters.recordWriteFailure(.closed)
            return .gone(goneReason(device: device, code: code))
        case .programmingError:
            trap(call, device: device, code: code)
        }
    }

    static func goneReason(device: String, code: CInt) -> String {
        "device \(device) is gone (deleted, or its namespace removed): \(Errno(rawValue: code).explained)"
    }

    /// Stops the process for a `.programmingError` errno, naming the device and the call.
    static func trap(_ call: String, device: String, code: CInt) -> Never {
        preconditionFailure("\(call) of device \(device) failed with \(Errno(rawValue: code).explained): "
                            + "a bug in Tapir, not a device gone")
    }
}
