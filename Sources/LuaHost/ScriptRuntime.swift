import CLua
import Devices
import Packets
import Reactor

// The C callbacks behind the runtime functions of tapir (timers, devices, stats,
// on_stop, now), with the Script as their context. Plain values in and out; CLua raises
// whatever they refuse.

extension Script {
    func installRuntime() throws(LuaError) {
        var callbacks = clua_runtime_callbacks()
        callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        callbacks.schedule = scriptSchedule
        callbacks.cancel = scriptCancel
        callbacks.write = scriptWrite
        callbacks.open = scriptOpen
        callbacks.on_stop = scriptOnStop
        callbacks.query = scriptQuery
        callbacks.now = scriptNow
        try state.installRuntime(callbacks)
    }

    /// The answer to a query, kept in queryBuffer until the next one.
    func answer(_ query: clua_query, argument: Int64) -> EncodedValue? {
        switch query {
        case CLUA_QUERY_DEVICE:
            return host.device(id: argument)?.encodedFields
        case CLUA_QUERY_DEVICES:
            return .array(host.devices.filter { !$0.goneReported }.map { .integer($0.id) })
        case CLUA_QUERY_STATS:
            return host.encodedStats
        default:
            return nil
        }
    }
}

extension TapirHost {
    /// tapir.stats(): per device, per handler, reassembly's and TCP's counters; in a
    /// multi-queue run, every queue's added up, and each queue's own in `queues`
    /// (the others' as they last published them: HostQueueStats).
    var encodedStats: EncodedValue {
        guard let queuePlace else { return ownStats }
        var queues = queuePlace.board.snapshot().map { $0 ?? .table([]) }
        queues[queuePlace.index - 1] = ownStats
        return QueueStatsSum.combined(queues)
    }

    /// This host's own counters (its queue's alone in a multi-queue run).
    var ownStats: EncodedValue {
        let deviceStats = devices.map { (EncodedValue.string($0.name), $0.encodedCounters) }
        var handlerStats: [EncodedValue] = []
        for script in scripts {
            for handler in script.state.handlers {
                handlerStats.append(.record([
                    "script": .string(script.name),
                    "selector": .string(handler.selector.description),
                    "defined_at": .string(handler.definedAt),
                    "calls": .integer(Int64(handler.calls)),
                    "errors": .integer(Int64(handler.errors)),
                    "time_ms": .number(Double(handler.timeSpent.components.seconds) * 1e3
                        + Double(handler.timeSpent.components.attoseconds) / 1e15),
                ]))
            }
        }
        let fragments = reassembler.counters
        let reassembly: EncodedValue = .record([
            "fragments": .integer(Int64(fragments.fragments)),
            "reassembled": .integer(Int64(fragments.reassembled)),
            "timed_out": .integer(Int64(fragments.timedOut)),
            "overlapping": .integer(Int64(fragments.overlapping)),
            "too_big": .integer(Int64(fragments.tooBig)),
            "inconsistent": .integer(Int64(fragments.inconsistent)),
            "evicted": .integer(Int64(fragments.evicted)),
        ])
        let fragments6 = dispatch.reassembler6.counters
        let reassembly6: EncodedValue = .record([
            "fragments": .integer(Int64(fragments6.fragments)),
            "reassembled": .integer(Int64(fragments6.reassembled)),
            "atomic": .integer(Int64(fragments6.atomic)),
            "timed_out": .integer(Int64(fragments6.timedOut)),
            "overlapping": .integer(Int64(fragments6.overlapping)),
            "too_big": .integer(Int64(fragments6.tooBig)),
            "inconsistent": .integer(Int64(fragments6.inconsistent)),
            "incomplete_headers": .integer(Int64(fragments6.incompleteHeaderChain)),
            "evicted": .integer(Int64(fragments6.evicted)),
        ])
        return .record(["devices": .table(deviceStats), "handlers": .array(handlerStats), "reassembly": reassembly,
                        "reassembly_ipv6": reassembly6, "tcp": tcp.encodedStats])
    }

    /// tapir.open: a device already in the host by that name, or a new one.
    func open(_ request: DeviceRequest) throws -> HostDevice {
        if let existing = device(named: request.name), !existing.goneReported {
            guard existing.device.mode == request.mode else {
                throw HostError("device \(request.name) is open already as a \(existing.modeName)")
            }
            return existing
        }
        guard let deviceOpener else {
            throw HostError("tapir.open is not available here (no devices can be opened)")
        }
        return try add(try deviceOpener(request))
    }
}

/// A refusal the host explains to a script.
struct HostError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private func script(_ context: UnsafeMutableRawPointer?) -> Script? {
    guard let context else { return nil }
    return Unmanaged<Script>.fromOpaque(context).takeUnretainedValue()
}

/// Copies a message into CLua's error buffer (CLUA_ERROR_CAPACITY bytes, NUL-terminated).
func writeError(_ message: String, into error: UnsafeMutablePointer<CChar>?) {
    guard let error else { return }
    let bytes = Array(message.utf8.prefix(Int(CLUA_ERROR_CAPACITY) - 1))
    for (index, byte) in bytes.enumerated() { error[index] = CChar(bitPattern: byte) }
    error[bytes.count] = 0
}

private func scriptSchedule(context: UnsafeMutableRawPointer?, milliseconds: Int64, repeating: Int32,
                            functionReference: Int32, error: UnsafeMutablePointer<CChar>?) -> Int64 {
    guard let script = script(context) else { return -1 }
    if script.host.isStopped {
        writeError("the host is stopping: no new timers", into: error)
        return -1
    }
    return script.schedule(milliseconds: milliseconds, repeating: repeating != 0,
                           functionReference: functionReference)
}

private func scriptCancel(context: UnsafeMutableRawPointer?, timer: Int64) -> Int32 {
    script(context)?.cancel(timer: timer) ?? LUA_NOREF
}

private func scriptWrite(context: UnsafeMutableRawPointer?, deviceID: Int64, bytes: UnsafePointer<UInt8>?,
                         length: Int, error: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let context else { return -1 }
    let packet = UnsafeRawBufferPointer(start: bytes, count: length)
    // The state holds its script while Lua runs: no retain for the call (per packet).
    return Unmanaged<Script>.fromOpaque(context)._withUnsafeGuaranteedRef { script in
        switch script.host.egress.write(packet, toDeviceID: deviceID) {
        case true?: return 1
        case false?: return 0
        case nil:
            writeError("no such device", into: error)
            return -1
        }
    }
}

private func scriptOpen(context: UnsafeMutableRawPointer?, options: UnsafePointer<clua_key>?, count: Int32,
                        error: UnsafeMutablePointer<CChar>?) -> Int64 {
    guard let script = script(context) else { return -1 }
    var request = TapirHost.DeviceRequest(name: "", mode: .tap, packetInfo: false)
    for option in UnsafeBufferPointer(start: options, count: Int(max(count, 0))) {
        let name = String(cString: option.name, length: option.name_length) ?? ""
        let text = option.is_string != 0 ? String(cString: option.string_value, length: option.string_length) : nil
        switch (name, text) {
        case ("name", let value?):
            request.name = value
        case ("mode", "tap"?):
            request.mode = .tap
        case ("mode", "tun"?):
            request.mode = .tun
        case ("pi", nil):
            request.packetInfo = option.integer_value != 0
        default:
            writeError("bad argument #1 to 'open' (unknown or ill-typed option '\(name)'; known: name (string), mode (\"tap\" or \"tun\"), pi (boolean))", into: error)
            return -1
        }
    }
    if request.name.isEmpty {
        writeError("bad argument #1 to 'open' (field 'name' (a string) is required)", into: error)
        return -1
    }
    do {
        return try script.host.open(request).id
    } catch let failure {
        writeError("cannot open \(request.name): \(failure)", into: error)
        return -1
    }
}

private func scriptOnStop(context: UnsafeMutableRawPointer?, functionReference: Int32) {
    script(context)?.addStopFunction(functionReference)
}

private func scriptQuery(context: UnsafeMutableRawPointer?, what: Int32, argument: Int64,
                         data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                         length: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let script = script(context),
          let value = script.answer(clua_query(UInt32(what)), argument: argument) else { return -1 }
    script.queryBuffer.removeAll(keepingCapacity: true)
    value.encode(into: &script.queryBuffer)
    // The buffer lives in the script until the next query; C copies it into Lua at once.
    script.queryBuffer.withUnsafeBufferPointer { buffer in
        data?.pointee = buffer.baseAddress
        length?.pointee = buffer.count
    }
    return 0
}

private func scriptNow(context: UnsafeMutableRawPointer?) -> Int64 {
    guard let script = script(context) else { return 0 }
    return Int64(truncatingIfNeeded: script.host.now.nanoseconds)
}
