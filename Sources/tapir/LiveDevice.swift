import Devices
import LuaHost

/// The device a live command (`run`, `console`) serves: the one `--dev` names (created if
/// missing, brought up), or a fresh tap/tun moved into a new sandbox namespace with the
/// kernel side addressed. Failures end the command with the device layer's message.
struct LiveDevice {
    let device: TunTapDevice
    let sandbox: Sandbox?

    static func open(name: String?, mode: DeviceMode, packetInfo: Bool) throws -> LiveDevice {
        do {
            if let name {
                return LiveDevice(device: try TunTapDevice.open(.init(name: name, mode: mode, packetInfo: packetInfo,
                                                                      bringUp: true)),
                                  sandbox: nil)
            }
            let device = try TunTapDevice.open(.init(name: mode == .tap ? "tapir%d" : "tapirtun%d", mode: mode,
                                                     packetInfo: packetInfo))
            let sandbox = try Sandbox()
            do {
                try sandbox.adopt(device)
            } catch {
                sandbox.remove()
                throw error
            }
            return LiveDevice(device: device, sandbox: sandbox)
        } catch {
            throw CleanExit.message("tapir: \(error)", code: 1)
        }
    }

    /// What tapir.open uses in a live host: a real tun/tap, brought up.
    static func opener(_ request: TapirHost.DeviceRequest) throws -> any PacketDevice {
        try TunTapDevice.open(.init(name: request.name, mode: request.mode, packetInfo: request.packetInfo,
                                    bringUp: true))
    }
}
