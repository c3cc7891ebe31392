import Kernel
import SystemPackage

/// Errors about devices and the sandbox, each with a message a user can act on.
public enum DeviceError: Error, Equatable, CustomStringConvertible {
    /// Interface names are at most 15 bytes (IFNAMSIZ - 1). Checked before any syscall.
    case nameTooLong(String)
    /// /dev/net/tun could not be opened because it (or the tun module) is missing.
    case tunMissing(errno: Errno)
    /// EPERM / EACCES attaching the device (TUNSETIFF), or EPERM opening /dev/net/tun.
    case permissionDenied(name: String, errno: Errno)
    /// EACCES opening /dev/net/tun: the node's permissions (not a capability) refuse the user.
    case controlDeviceDenied(errno: Errno)
    /// EPERM bringing a device that is down up: needs CAP_NET_ADMIN.
    case cannotBringUp(name: String, errno: Errno)
    /// EBUSY: the device is held by another process and is not multi-queue.
    case busy(String)
    /// EINVAL from TUNSETIFF: the name is taken by a different kind of device
    /// (tun vs tap, multi-queue vs not, or not a tun/tap at all).
    case kindMismatch(String)
    /// Another queue was asked of a multi-queue device that was moved to another namespace.
    case movedToAnotherNamespace(String)
    /// The device was deleted (or its namespace removed) while open.
    case deviceGone(name: String, reason: String)
    /// Any other failing system call, starting a process (posix_spawn) among them.
    case system(SystemError)
    /// A program the sandbox needs is not installed.
    case programNotFound(program: String, hint: String)
    /// A command with no program in it was asked to run.
    case emptyCommand
    /// A command run by the sandbox exited non-zero.
    case commandFailed(command: String, status: Int32, stderr: String)
    /// A command run by the sandbox did not finish in time and was killed.
    case commandTimedOut(command: String)

    /// `.system` for a call that returned -errno (`code`) through `DeviceIO`.
    static func system(_ operation: String, _ code: CInt) -> DeviceError {
        .system(SystemError(operation: operation, errno: Errno(rawValue: code)))
    }

    public var description: String {
        switch self {
        case .nameTooLong(let name):
            "device name '\(name)' is \(name.utf8.count) bytes long; interface names are at most 15 bytes"
        case .tunMissing(let errno):
            "/dev/net/tun is not available (\(errno.explained)): load the tun module: modprobe tun"
        case .permissionDenied(let name, let errno):
            "cannot open device \(name.replacing("%d", with: "N")) (\(errno.explained)): needs CAP_NET_ADMIN (run as root), "
                + "or a device made with `ip tuntap add dev \(name.exampleName) mode tap user $USER`"
                + (name.contains("%d") ? " and given with --dev \(name.exampleName)" : "")
        case .controlDeviceDenied(let errno):
            "cannot open /dev/net/tun (\(errno.explained)): the device node's permissions refuse this user "
                + "(a capability would not help); it is usually crw-rw-rw- (mode 0666): see ls -l /dev/net/tun, "
                + "and as root: chmod 0666 /dev/net/tun"
        case .cannotBringUp(let name, let errno):
            "cannot bring device \(name) up (\(errno.explained)): needs CAP_NET_ADMIN (run as root), "
                + "or bring it up beforehand: ip link set \(name.exampleName) up"
        case .busy(let name):
            "device \(name) is in use by another process and is not multi-queue (EBUSY): "
                + "choose another name, or open it with multi-queue"
        case .kindMismatch(let name):
            "device \(name) exists but is not a tun/tap of the kind asked for (EINVAL): "
                + "tun vs tap and multi-queue must match how it was made; choose another name or delete it"
        case .movedToAnotherNamespace(let name):
            "device \(name) was moved to another network namespace: open all its queues before moving it"
        case .deviceGone(let name, let reason):
            "device \(name) was deleted while open: \(reason)"
        case .system(let error):
            "\(error)"
        case .programNotFound(let program, let hint):
            "'\(program)' was not found in PATH, /usr/sbin or /sbin: \(hint)"
        case .emptyCommand:
            "no program to run: the command is empty"
        case .commandFailed(let command, let status, let stderr):
            "`\(command)` exited with status \(status): \(stderr.trimmingTrailingNewlines)"
        case .commandTimedOut(let command):
            "`\(command)` did not finish in time and was killed"
        }
    }
}

extension String {
    /// A device-name template ("tapir%d") as a name to give in advice ("tapir0").
    public var exampleName: String { replacing("%d", with: "0") }

    var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last.isNewline { text = text.dropLast() }
        return String(text)
    }
}
