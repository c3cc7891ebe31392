import Devices
import Logging
import Reactor

/// A tun/tap's or a packet device's MTU kept as the kernel's while the host runs (`ip
/// link set DEV mtu N`): in the host (what `dev:write` fragments to, what TCP connections
/// take their MSS from), in every script's `dev.mtu`, and in a packet socket's ring slots.
/// The kernel says when it changes (`LinkWatcher`); nothing is asked per packet.
extension TapirHost {
    func followLink(of hostDevice: HostDevice, on loop: EventLoop) {
        let watcher: LinkWatcher
        do {
            if let tunTap = hostDevice.device as? TunTapDevice {
                watcher = try LinkWatcher(following: tunTap)
            } else if let socket = hostDevice.device as? PacketSocketDevice {
                watcher = try LinkWatcher(interface: socket.name, mtu: socket.mtu)
            } else {
                return
            }
        } catch {
            logger.warning("\(hostDevice.name): its MTU will not follow the kernel's: \(error)")
            return
        }
        hostDevice.linkWatcher = watcher
        watchLink(of: hostDevice, on: loop)
        if watcher.mtu != hostDevice.mtu { linkMTUChanged(hostDevice, to: watcher.mtu) }
    }

    func stopFollowingLink(of hostDevice: HostDevice) {
        guard let watcher = hostDevice.linkWatcher else { return }
        if let loop, let descriptor = watcher.descriptor { loop.deregister(descriptor) }
        watcher.close()
        hostDevice.linkWatcher = nil
    }

    private func watchLink(of hostDevice: HostDevice, on loop: EventLoop) {
        guard let watcher = hostDevice.linkWatcher, let descriptor = watcher.descriptor else { return }
        do {
            try loop.register(descriptor) { [unowned self, unowned hostDevice] _ in
                self.linkChanged(hostDevice, on: loop)
            }
        } catch {
            logger.warning("\(hostDevice.name): its MTU will not follow the kernel's: \(error)")
            watcher.close()
            hostDevice.linkWatcher = nil
        }
    }

    private func linkChanged(_ hostDevice: HostDevice, on loop: EventLoop) {
        guard let watcher = hostDevice.linkWatcher else { return }
        let oldDescriptor = watcher.descriptor
        let outcome = watcher.readChanges()
        if outcome.descriptorChanged || outcome.stopped != nil, let oldDescriptor {
            loop.deregister(oldDescriptor)
        }
        if let stopped = outcome.stopped {
            logger.warning("\(stopped)")
            hostDevice.linkWatcher = nil
        } else if outcome.descriptorChanged {
            watchLink(of: hostDevice, on: loop)
        }
        if let mtu = outcome.mtu { linkMTUChanged(hostDevice, to: mtu) }
    }

    private func linkMTUChanged(_ hostDevice: HostDevice, to mtu: Int) {
        logger.info("\(hostDevice.name): MTU \(hostDevice.mtu.map(String.init) ?? "unknown") -> \(mtu)")
        hostDevice.mtu = mtu
        for script in scripts { script.state.setDeviceMTU(id: hostDevice.id, mtu: mtu) }
        guard let socket = hostDevice.device as? PacketSocketDevice else { return }
        let slotSize = socket.slotSize
        do {
            try socket.interfaceMTUChanged(to: mtu)
            if socket.slotSize != slotSize {
                logger.info("\(hostDevice.name): receive ring slots \(slotSize) -> \(socket.slotSize) bytes for MTU \(mtu)")
            }
        } catch {
            deviceGone(hostDevice, reason: "\(hostDevice.name): its receive ring could not follow MTU \(mtu): \(error)")
        }
    }
}
