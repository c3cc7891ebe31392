import ArgumentParser
import Devices
import Glibc
import Kernel
import Logging
import LuaHost

/// `tapir run --user NAME [--group NAME]`: once the devices and the sandbox are set up and
/// before any Lua runs, the process gives up root for good (`Syscalls.dropPrivileges`:
/// setgroups to the one group, setgid, setuid, no-new-privileges); then it checks that no capability is left
/// (CapEff and CapPrm in /proc/self/status) and stops if one is. What needs root later:
/// removing the sandbox goes through a SandboxKeeper started before the drop; tapir.open
/// works only on a device the user owns, and says so otherwise.
struct PrivilegeDrop {
    let userName: String
    let uid: uid_t
    let gid: gid_t
    /// The user's home directory, if the user database names one.
    let home: String?

    /// Looks the user (and group) up by name or number.
    init(user: String, group: String?) throws {
        var groupID: gid_t
        if let entry = getpwnam(user) ?? uid_t(user).flatMap({ getpwuid($0) }) {
            userName = String(cString: entry.pointee.pw_name)
            uid = entry.pointee.pw_uid
            groupID = entry.pointee.pw_gid
            home = entry.pointee.pw_dir.map { String(cString: $0) }
        } else if let number = uid_t(user) {
            userName = user
            uid = number
            groupID = gid_t(number)
            home = nil
        } else {
            throw CleanExit.message("tapir: --user \(user): no such user", code: 1)
        }
        if let group {
            if let entry = getgrnam(group) {
                groupID = entry.pointee.gr_gid
            } else if let number = gid_t(group) {
                groupID = number
            } else {
                throw CleanExit.message("tapir: --group \(group): no such group", code: 1)
            }
        }
        gid = groupID
        guard uid != 0 else { throw CleanExit.message("tapir: --user \(user) is root: nothing would be dropped", code: 1) }
    }

    /// Starts the keeper of `sandboxes` (when there are any), drops root, checks that no
    /// capability is left and makes the host's tapir.open explain what it now needs.
    /// Returns the keeper: ask it, not the sandboxes, to remove them at exit.
    func perform(sandboxes: [Sandbox], host: TapirHost, logger: Logger) throws -> SandboxKeeper? {
        guard Syscalls.effectiveUserID == 0 else {
            throw CleanExit.message(
                "tapir: --user needs tapir to start as root (it runs as uid \(Syscalls.effectiveUserID))", code: 1)
        }
        var keeper: SandboxKeeper?
        if !sandboxes.isEmpty {
            do {
                keeper = try SandboxKeeper.start(executable: Self.executable, arguments: ["sandbox-keeper"],
                                                 namespaces: sandboxes.map(\.namespace))
            } catch {
                throw CleanExit.message("tapir: cannot start the process that removes the sandbox at exit: \(error)",
                                        code: 1)
            }
        }
        do {
            try drop()
        } catch {
            keeper?.removeSandboxes()
            throw error
        }
        let opener = host.deviceOpener
        let userName = self.userName
        host.deviceOpener = { request in
            guard let opener else { throw PrivilegeError.openRefused(device: request.name, user: userName, reason: "") }
            do {
                return try opener(request)
            } catch let error as DeviceError {
                switch error {
                case .permissionDenied, .controlDeviceDenied, .cannotBringUp:
                    throw PrivilegeError.openRefused(device: request.name, user: userName, reason: "\(error)")
                default:
                    throw error
                }
            }
        }
        logger.info("dropped root: running as \(userName) (uid \(uid), gid \(gid)), no capabilities")
        return keeper
    }

    /// Reads, while still root, the Lua files the run starts with (the scripts and what
    /// is beside them, the packs, the prelude): the user may not be allowed to read them
    /// (a checkout under /root, mode 700). See StartingSources.
    func readStartingSources(scripts: [String], packs: [String], options: TapirHost.Options, logger: Logger) {
        let kept = StartingSources.keep(scripts: scripts, packs: packs, moduleDirectories: options.moduleDirectories)
        logger.debug("read \(kept) Lua files before dropping root to \(userName)")
    }

    private func drop() throws {
        do {
            try Syscalls.dropPrivileges(uid: uid, gid: gid)
        } catch {
            throw CleanExit.message("tapir: cannot drop root to \(userName): \(error)", code: 1)
        }
        guard Syscalls.realUserID == uid, Syscalls.effectiveUserID == uid,
              Syscalls.realGroupID == gid, Syscalls.effectiveGroupID == gid else {
            throw CleanExit.message("tapir: the user and group did not change as asked; stopping", code: 1)
        }
        let capabilities = Self.capabilities()
        guard let capabilities, capabilities.effective == 0, capabilities.permitted == 0 else {
            let shown = capabilities.map { "CapEff \($0.effective), CapPrm \($0.permitted)" } ?? "unreadable"
            throw CleanExit.message("tapir: capabilities are left after dropping root (\(shown)); stopping", code: 1)
        }
    }

    /// The effective and permitted capability sets, from /proc/self/status.
    static func capabilities() -> (effective: UInt64, permitted: UInt64)? {
        guard let bytes = try? Syscalls.readFile("/proc/self/status") else { return nil }
        let status = String(decoding: bytes, as: UTF8.self)
        var effective: UInt64?
        var permitted: UInt64?
        for line in status.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = UInt64(parts[1].filter { $0 != " " && $0 != "\t" }, radix: 16)
            if parts[0] == "CapEff" { effective = value }
            if parts[0] == "CapPrm" { permitted = value }
        }
        guard let effective, let permitted else { return nil }
        return (effective, permitted)
    }

    /// This program, to start the keeper from (by its real path, not argv[0]).
    static var executable: String {
        Syscalls.executablePath() ?? CommandLine.arguments[0]
    }
}

enum PrivilegeError: Error, CustomStringConvertible {
    case openRefused(device: String, user: String, reason: String)

    var description: String {
        switch self {
        case let .openRefused(template, user, reason):
            let device = template.exampleName
            return "tapir runs as \(user) (--user) and cannot make or bring up devices now"
                + (reason.isEmpty ? "" : " (\(reason))")
                + "; open \(device) with --dev before the drop, or make it beforehand as root: "
                + "ip tuntap add dev \(device) mode tap user \(user) && ip link set \(device) up"
        }
    }
}
