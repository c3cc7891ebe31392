import CLua
import Packets
import TCPEngine

// The C callbacks behind tapir.tcp (CLuaTCP.h), with the Script as their context: options
// read into the host's TCP service (TCPService), plain values back.

extension Script {
    func installTCP() throws(LuaError) {
        var callbacks = clua_tcp_callbacks()
        callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        callbacks.listen = tcpListen
        callbacks.close_listener = tcpCloseListener
        callbacks.connect = tcpConnect
        callbacks.connected = tcpConnected
        callbacks.receive = tcpReceive
        callbacks.send = tcpSend
        callbacks.close = tcpClose
        callbacks.describe = tcpDescribe
        callbacks.set_nagle = tcpSetNagle
        try state.install { clua_install_tcp($0, &callbacks, &$1) }
    }
}

/// The link address a script's TCP uses when it names none ("TAPIR" in ASCII after 02).
let defaultTCPLinkAddress = MACAddress("02:54:41:50:49:52")!

/// Options of tapir.tcp.listen and tapir.tcp.connect, by name, read from C's keys.
private struct TCPOptions {
    var integers: [String: Int64] = [:]
    var strings: [String: String] = [:]

    init(_ keys: UnsafePointer<clua_key>?, _ count: Int32, function: String, known: [String: Bool]) throws(HostError) {
        for key in UnsafeBufferPointer(start: keys, count: Int(max(count, 0))) {
            let name = String(cString: key.name, length: key.name_length) ?? ""
            guard let wantsString = known[name] else {
                let names = known.keys.sorted().joined(separator: ", ")
                throw HostError("bad argument #1 to '\(function)' (unknown option '\(name)' (known: \(names)))")
            }
            if wantsString != (key.is_string != 0) {
                throw HostError("bad argument #1 to '\(function)' (option '\(name)': \(wantsString ? "a string" : "an integer") expected)")
            }
            if wantsString {
                strings[name] = String(cString: key.string_value, length: key.string_length) ?? ""
            } else {
                integers[name] = key.integer_value
            }
        }
    }

    func port(_ function: String) throws(HostError) -> UInt16 {
        guard let port = integers["port"] else { throw HostError("bad argument #1 to '\(function)' (option 'port' is required)") }
        guard (1...65535).contains(port) else { throw HostError("bad argument #1 to '\(function)' (port \(port) is not 1-65535)") }
        return UInt16(port)
    }

    func ipv4(_ name: String, _ function: String) throws(HostError) -> IPv4Address? {
        guard let text = strings[name] else { return nil }
        guard let address = IPv4Address(text) else {
            throw HostError("bad argument #1 to '\(function)' (option '\(name)': an IPv4 address expected, got '\(text)')")
        }
        return address
    }

    func ipv6(_ name: String, _ function: String) throws(HostError) -> IPv6Address? {
        guard let text = strings[name] else { return nil }
        guard let address = IPv6Address(text) else {
            throw HostError("bad argument #1 to '\(function)' (option '\(name)': an IPv6 address expected, got '\(text)')")
        }
        return address
    }

    func mac(_ name: String, _ function: String) throws(HostError) -> MACAddress? {
        guard let text = strings[name] else { return nil }
        guard let address = MACAddress(text) else {
            throw HostError("bad argument #1 to '\(function)' (option '\(name)': a MAC address expected, got '\(text)')")
        }
        return address
    }
}

private func script(_ context: UnsafeMutableRawPointer?) -> Script? {
    guard let context else { return nil }
    return Unmanaged<Script>.fromOpaque(context).takeUnretainedValue()
}

private func tcpListen(context: UnsafeMutableRawPointer?, keys: UnsafePointer<clua_key>?, count: Int32,
                       function: Int32, message: UnsafeMutablePointer<CChar>?) -> Int64 {
    guard let script = script(context) else { return -1 }
    do {
        let options = try TCPOptions(keys, count, function: "listen",
                                     known: ["port": false, "ip": true, "ipv6": true, "backlog": false, "mac": true])
        let port = try options.port("listen")
        var endpoints: [TCPEndpoint] = []
        if let ip = try options.ipv4("ip", "listen") { endpoints.append(TCPEndpoint(.v4(ip), port)) }
        if let ip = try options.ipv6("ipv6", "listen") { endpoints.append(TCPEndpoint(.v6(ip), port)) }
        if endpoints.isEmpty {
            endpoints = [TCPEndpoint(.v4(.any), port), TCPEndpoint(.v6(.unspecified), port)]
        }
        let backlog = options.integers["backlog"].map { Int(clamping: $0) }
        let mac = try options.mac("mac", "listen") ?? defaultTCPLinkAddress
        guard !script.host.isStopped, script.tasks.running else { throw HostError("the host is stopping: no new listeners") }
        do {
            return try script.host.tcp.listen(endpoints, backlog: backlog, mac: mac, script: script, function: function)
        } catch let failure as TCPError {
            throw HostError("cannot listen on \(endpoints.map(\.description).joined(separator: " and ")): \(failure)")
        }
    } catch let failure as HostError {
        writeError(failure.description, into: message)
    } catch {
        writeError("\(error)", into: message)
    }
    return -1
}

private func tcpCloseListener(context: UnsafeMutableRawPointer?, id: Int64) -> Int32 {
    guard let script = script(context) else { return LUA_NOREF }
    return script.host.tcp.closeListener(id) ?? LUA_NOREF
}

private func tcpConnect(context: UnsafeMutableRawPointer?, keys: UnsafePointer<clua_key>?, count: Int32,
                        message: UnsafeMutablePointer<CChar>?) -> Int64 {
    guard let script = script(context) else { return -1 }
    let function = "connect"
    do {
        let options = try TCPOptions(keys, count, function: function,
                                     known: ["ip": true, "ipv6": true, "port": false, "from": true, "mac": true,
                                             "from_mac": true, "timeout": false])
        let port = try options.port(function)
        let remote: TCPAddress
        let local: TCPAddress
        if let ip = try options.ipv4("ip", function) {
            remote = .v4(ip)
            guard let from = try options.ipv4("from", function) else {
                throw HostError("bad argument #1 to 'connect' (option 'from', this host's IPv4 address, is required)")
            }
            local = .v4(from)
        } else if let ip = try options.ipv6("ipv6", function) {
            remote = .v6(ip)
            guard let from = try options.ipv6("from", function) else {
                throw HostError("bad argument #1 to 'connect' (option 'from', this host's IPv6 address, is required)")
            }
            local = .v6(from)
        } else {
            throw HostError("bad argument #1 to 'connect' (option 'ip' or 'ipv6' is required)")
        }
        guard let device = script.host.devices.first(where: { !$0.goneReported }) else {
            throw HostError("tapir.tcp.connect: the host has no device")
        }
        let peer = try options.mac("mac", function)
        if device.linkType == .ethernet, peer == nil {
            throw HostError("bad argument #1 to 'connect' (option 'mac', the peer's link address, is required on a tap device)")
        }
        let route = TCPService.Route(device: device, source: try options.mac("from_mac", function) ?? defaultTCPLinkAddress,
                                     destination: peer ?? .zero, tags: [])
        do {
            return try script.host.tcp.connect(from: TCPEndpoint(local, 0), to: TCPEndpoint(remote, port),
                                               route: route, script: script)
        } catch let failure as TCPError {
            throw HostError("cannot connect to \(TCPEndpoint(remote, port)): \(failure)")
        }
    } catch let failure as HostError {
        writeError(failure.description, into: message)
    } catch {
        writeError("\(error)", into: message)
    }
    return -1
}

private func outcome(_ attempt: TCPService.Attempt, _ bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                     _ length: UnsafeMutablePointer<Int>?, _ error: UnsafeMutablePointer<CChar>?) -> Int32 {
    switch attempt {
    case .done(let data):
        bytes?.pointee = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
        length?.pointee = data.count
        return Int32(CLUA_TCP_DONE)
    case .wait:
        return Int32(CLUA_TCP_WAIT)
    case let .failed(reason, partial):
        writeError(reason, into: error)
        bytes?.pointee = partial?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        length?.pointee = partial?.count ?? 0
        return Int32(CLUA_TCP_FAILED)
    }
}

private func tcpConnected(context: UnsafeMutableRawPointer?, id: Int64, error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let script = script(context) else { return Int32(CLUA_TCP_FAILED) }
    return outcome(script.host.tcp.connected(id), nil, nil, error)
}

private func tcpReceive(context: UnsafeMutableRawPointer?, id: Int64, mode: Int32, count: Int64,
                        bytes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, length: UnsafeMutablePointer<Int>?,
                        error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let script = script(context) else { return Int32(CLUA_TCP_FAILED) }
    let attempt = script.host.tcp.receive(id, mode: clua_receive_mode(UInt32(mode)), count: Int(count))
    return outcome(attempt, bytes, length, error)
}

private func tcpSend(context: UnsafeMutableRawPointer?, id: Int64, bytes: UnsafePointer<UInt8>?, length: Int,
                     error: UnsafeMutablePointer<CChar>?) -> Int64 {
    guard let script = script(context) else { return -1 }
    switch script.host.tcp.send(id, UnsafeRawBufferPointer(start: bytes, count: length)) {
    case .success(let taken):
        return Int64(taken)
    case .failure(let failure):
        writeError(failure.description, into: error)
        return -1
    }
}

private func tcpClose(context: UnsafeMutableRawPointer?, id: Int64, how: Int32) {
    script(context)?.host.tcp.close(id, how: how)
}

private func tcpDescribe(context: UnsafeMutableRawPointer?, id: Int64, data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                         length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let script = script(context), let value = script.host.tcp.describe(id) else { return -1 }
    script.queryBuffer = value.encoded
    script.queryBuffer.withUnsafeBufferPointer { buffer in
        data?.pointee = buffer.baseAddress
        length?.pointee = buffer.count
    }
    return 0
}

private func tcpSetNagle(context: UnsafeMutableRawPointer?, id: Int64, on: Int32) {
    script(context)?.host.tcp.setNagle(id, on != 0)
}
