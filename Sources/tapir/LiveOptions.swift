import ArgumentParser
import Devices
import LuaHost

/// Options of the commands that serve live devices (`run` and `console`): the per-device
/// limits and the user to drop root to once the devices are set up.
struct LiveOptions: ParsableArguments {
    @Option(name: .long, help: "Bytes read from one device per wakeup before serving the others.")
    var readBudget: Int = DeviceDrain.defaultByteBudget

    @Option(name: .long, help: ArgumentHelp("The largest frame dev:write sends, in bytes (IPv4 over the MTU is fragmented first). (default: the device's MTU + \(HostDevice.linkHeaderAllowance) on a tap, its MTU on a tun)", valueName: "bytes"))
    var maxPacket: Int?

    @Option(name: .long, help: "Drop root once the devices and the sandbox are set up: scripts run as this user, with no capabilities.")
    var user: String?

    @Option(name: .long, help: "With --user: the group to run as. (default: the user's own)")
    var group: String?

    func validate() throws {
        guard readBudget > 0 else { throw ValidationError("--read-budget must be positive") }
        guard (maxPacket ?? 1) > 0 else { throw ValidationError("--max-packet must be positive") }
        guard group == nil || user != nil else { throw ValidationError("--group goes with --user") }
    }

    /// Sets the device limits in the host's options.
    func apply(to options: inout TapirHost.Options) {
        options.readBudget = readBudget
        options.maxPacketSize = maxPacket
    }

    /// The drop `--user` asks for, its user and group looked up now (before any device is
    /// made, so a wrong name stops tapir first); nil without --user.
    func privilegeDrop() throws -> PrivilegeDrop? {
        try user.map { try PrivilegeDrop(user: $0, group: group) }
    }
}
