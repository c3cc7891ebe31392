import CLua

/// One Lua state: a pack's or a script's own (DESIGN.md, Isolation), with its memory cap,
/// instruction budget, libraries, handlers and log sink.
///
/// Used on the loop thread only. Every call into Lua goes through CLua's protected entry
/// points, so no Lua error ever unwinds through a Swift frame.
public final class LuaState {
    public struct Options: Sendable {
        /// Bytes the state may hold (0: no cap).
        public var memoryCap: Int
        /// VM instructions per call from the host: a handler, a chunk's top level (0: none).
        public var instructionBudget: Int
        /// Trusted scripts also get io, debug, all of os, and package.loadlib.
        public var trusted: Bool
        /// Directories `require` searches, as dir/?.lua and dir/?/init.lua.
        public var moduleDirectories: [String]
        /// A failing handler is logged at most once per this interval.
        public var errorLogInterval: Duration
        /// A pack's state (untrusted): what these permissions grant is there, everything
        /// else withheld raises a message naming the permission. Nil: not a pack.
        public var packPermissions: Set<PackPermission>?

        public init(memoryCap: Int = 64 << 20, instructionBudget: Int = 10_000_000,
                    trusted: Bool = false, moduleDirectories: [String] = [],
                    errorLogInterval: Duration = .seconds(10), packPermissions: Set<PackPermission>? = nil) {
            self.memoryCap = memoryCap
            self.instructionBudget = instructionBudget
            self.trusted = trusted
            self.moduleDirectories = moduleDirectories
            self.errorLogInterval = errorLogInterval
            self.packPermissions = packPermissions
        }

        var packagePath: String {
            moduleDirectories.flatMap { directory in
                let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
                return ["\(base)/?.lua", "\(base)/?/init.lua"]
            }.joined(separator: ";")
        }
    }

    /// The version of the tapir Lua API this host offers (tapir.api).
    public static let apiVersion = 1

    public let options: Options
    let log: LuaLogSink
    /// Handlers in registration order.
    public private(set) var handlers: [Handler] = []
    private var nextHandlerID: Int64 = 0
    /// The C side of this state (CLua's clua_host).
    private(set) var host: OpaquePointer?
    /// Bumped whenever a handler is added or removed, so dispatch tables know to rebuild.
    public private(set) var handlerGeneration = 0
    /// The changes count of the host this state's script belongs to, bumped with
    /// handlerGeneration, so the host can cache what all its scripts want at once.
    var hostHandlerChanges: HandlerChanges?
    /// A last check of a new selector, by the host (a filter that does not compile for a
    /// device's link type). Returns the refusal message, or nil to accept.
    public var selectorCheck: ((HandlerSelector) -> String?)?

    public init(options: Options = Options(), log: @escaping LuaLogSink) throws(LuaError) {
        TickClock.start()
        self.options = options
        self.log = log
        self.memoryCap = options.memoryCap
        var callbacks = clua_callbacks()
        callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        callbacks.on_register = luaHostRegisterHandler
        callbacks.on_off = luaHostRemoveHandler
        callbacks.log = luaHostLog
        var cOptions = clua_options()
        cOptions.memory_cap = options.memoryCap
        cOptions.instruction_budget = Int64(options.instructionBudget)
        cOptions.trusted = options.trusted ? 1 : 0
        if let permissions = options.packPermissions, !options.trusted {
            cOptions.pack = 1
            cOptions.permissions = permissions.reduce(0) { $0 | $1.bit }
        }
        host = options.packagePath.withCString { path in
            cOptions.package_path = path
            return clua_host_new(&cOptions, &callbacks)
        }
        if host == nil {
            throw LuaError(kind: .memory,
                message: "cannot create a Lua state within a memory cap of \(options.memoryCap) bytes")
        }
        try setTapirField("version", to: .string(TapirVersion.text))
    }

    deinit {
        clua_host_close(host)
    }

    // MARK: Loading

    /// Loads a Lua source file and runs its top level under the budget.
    public func load(path: String) throws(LuaError) {
        var result = clua_result()
        let status = clua_load_file(host, path, &result)
        try finish(status, &result)
    }

    /// Loads the source of the file at `path`, read earlier (StartingSources); errors
    /// name it as loading the file would.
    public func load(source: [UInt8], path: String) throws(LuaError) {
        var result = clua_result()
        let status = source.withUnsafeBufferPointer { bytes in
            ("@" + path).withCString { chunkName in
                bytes.withMemoryRebound(to: CChar.self) {
                    clua_load_string(host, $0.baseAddress, $0.count, chunkName, &result)
                }
            }
        }
        try finish(status, &result)
    }

    /// Loads a chunk of Lua source; errors name it as `name:line`.
    public func load(chunk: String, name: String) throws(LuaError) {
        var result = clua_result()
        var source = chunk
        let status = source.withUTF8 { bytes in
            ("=" + name).withCString { chunkName in
                clua_load_string(host, bytes.baseAddress, bytes.count, chunkName, &result)
            }
        }
        try finish(status, &result)
    }

    /// Runs a chunk and keeps its first result in the registry (nil gives a nil reference).
    public func evaluate(_ chunk: String, name: String = "evaluate") throws(LuaError) -> LuaReference {
        var result = clua_result()
        var reference: Int32 = LUA_NOREF
        var source = chunk
        let status = source.withUTF8 { bytes in
            ("=" + name).withCString { chunkName in
                clua_evaluate_to_reference(host, bytes.baseAddress, bytes.count, chunkName,
                                           &reference, &result)
            }
        }
        try finish(status, &result)
        return LuaReference(rawValue: reference)
    }

    /// A value kept with `evaluate`, as Lua's tostring shows it.
    public func string(_ reference: LuaReference) throws(LuaError) -> String {
        var result = clua_result()
        var text: UnsafePointer<CChar>?
        var length = 0
        let status = clua_reference_text(host, reference.rawValue, &text, &length, &result)
        let value = status == LUA_OK ? String(cString: text, length: length) ?? "" : ""
        try finish(status, &result)
        return value
    }

    /// A value kept with `evaluate`, as plain data (tables of booleans, numbers, strings;
    /// other values by their type name). A table nested deeper than 32 (or holding itself)
    /// is an error.
    public func encodedValue(_ reference: LuaReference) throws(LuaError) -> EncodedValue {
        var result = clua_result()
        var data: UnsafePointer<UInt8>?
        var length = 0
        let status = clua_encode_reference(host, reference.rawValue, &data, &length, &result)
        let value = status == LUA_OK ? EncodedValue(decoding: UnsafeRawBufferPointer(start: data, count: length)) : nil
        try finish(status, &result)
        guard let value else { throw LuaError(kind: .runtime, message: "host error: an undecodable encoded value") }
        return value
    }

    /// Runs a chunk and returns its first result as plain data (see `encodedValue`).
    public func evaluateEncoded(_ chunk: String, name: String = "evaluate") throws(LuaError) -> EncodedValue {
        let reference = try evaluate(chunk, name: name)
        defer { release(reference) }
        return try encodedValue(reference)
    }

    /// Runs a chunk and tells whether its first result is `true`.
    public func evaluateBoolean(_ chunk: String, name: String = "evaluate") throws(LuaError) -> Bool {
        try evaluateEncoded(chunk, name: name) == .boolean(true)
    }

    /// Sets `tapir.<name>` to plain data (a pack's tapir.config).
    public func setTapirField(_ name: String, to value: EncodedValue) throws(LuaError) {
        var result = clua_result()
        let bytes = value.encoded
        let status = bytes.withUnsafeBufferPointer { buffer in
            clua_set_tapir_field(host, name, buffer.baseAddress, buffer.count, &result)
        }
        try finish(status, &result)
    }

    /// Releases a value kept with `evaluate`.
    public func release(_ reference: LuaReference) {
        _ = clua_unreference(host, reference.rawValue)
    }

    /// Calls a function kept in the registry; true if it returned true.
    @discardableResult
    public func call(_ function: LuaReference, with arguments: [LuaArgument] = []) throws(LuaError) -> Bool {
        var result = clua_result()
        let status = LuaArgument.withCArguments(arguments) { cArguments in
            clua_call_reference(host, function.rawValue, cArguments.baseAddress,
                                Int32(cArguments.count), &result)
        }
        let returnedTrue = result.returned_true != 0
        try finish(status, &result)
        return returnedTrue
    }

    /// Runs a C function of CLua on the state inside a protected call, under the budget
    /// (clua_run_protected): what it raises comes back as a thrown LuaError. `context` is
    /// handed to `body` as it is and must stay valid during the call.
    public func runProtected(_ body: clua_protected_body, context: UnsafeMutableRawPointer?) throws(LuaError) {
        var result = clua_result()
        let status = clua_run_protected(host, body, context, &result)
        try finish(status, &result)
    }

    private func finish(_ status: Int32, _ result: inout clua_result) throws(LuaError) {
        defer { clua_result_release(host, &result) }
        if status != LUA_OK {
            throw LuaError(result: result, memoryCap: memoryCap)
        }
    }

    // MARK: Limits

    public var memoryUsed: Int { clua_memory_used(host) }
    public var memoryPeak: Int { clua_memory_peak(host) }
    /// Allocator calls that allocated or grew a block, and the bytes they added, since
    /// the state was made.
    public var allocations: (count: UInt64, bytes: UInt64) { (clua_allocations(host), clua_bytes_allocated(host)) }

    /// Bytes the state may hold (0: no cap). Lowering it below memoryUsed frees nothing;
    /// it makes the next growth fail.
    public var memoryCap: Int {
        didSet { clua_set_memory_cap(host, memoryCap) }
    }

    public var instructionBudget: Int {
        get { Int(clua_instruction_budget(host)) }
        set { clua_set_instruction_budget(host, Int64(newValue)) }
    }

    /// A full garbage collection (finalizers run, under the budget).
    /// Sets `dev.mtu` of device `id` in this state, if its scripts have seen the device.
    func setDeviceMTU(id: Int64, mtu: Int) {
        clua_device_set_mtu(host, id, Int64(mtu))
    }

    public func collectGarbage() {
        _ = clua_collect_garbage(host)
    }

    /// Values on the Lua stack between calls: always 0 unless something leaked.
    var stackDepth: Int { Int(clua_stack_depth(host)) }

    // MARK: Handlers

    /// Calls a handler with one argument (the packet object, later). Counts the call and
    /// its time; a failure is counted and logged, at most once per errorLogInterval.
    /// A handler removed with off() (perhaps by an earlier handler of the same dispatch)
    /// is not called: `.declined`.
    public func call(_ handler: Handler, with argument: LuaArgument = .nil) -> HandlerOutcome {
        argument.withCArgument { cArgument in
            call(handler, cArguments: UnsafeBufferPointer(start: cArgument, count: 1))
        }
    }

    public func call(_ handler: Handler, with arguments: [LuaArgument]) -> HandlerOutcome {
        LuaArgument.withCArguments(arguments) { cArguments in
            call(handler, cArguments: cArguments)
        }
    }

    private func call(_ handler: Handler, cArguments: UnsafeBufferPointer<clua_argument>) -> HandlerOutcome {
        guard handler.isRegistered else { return .declined }
        let start = clua_ticks()
        var result = clua_result()
        let status = clua_call_reference(host, handler.functionReference, cArguments.baseAddress,
                                         Int32(cArguments.count), &result)
        defer { clua_result_release(host, &result) }
        return outcome(of: handler, status: status, result, since: start)
    }

    /// Calls a packet handler with its packet object and device: the per-packet path (see
    /// clua_call_handler), with no argument array.
    public func call(_ handler: Handler, packet: UnsafePointer<clua_packet>, deviceID: Int64) -> HandlerOutcome {
        guard handler.isRegistered else { return .declined }
        let start = clua_ticks()
        var result = clua_result()
        let status = clua_call_handler(host, handler.functionReference, packet, deviceID, &result)
        defer { clua_result_release(host, &result) }
        return outcome(of: handler, status: status, result, since: start)
    }

    /// Counts the call and its time; a failure is counted and logged (rate-limited).
    @inline(__always)
    private func outcome(of handler: Handler, status: Int32, _ result: clua_result, since start: UInt64) -> HandlerOutcome {
        let ticks = clua_ticks() &- start
        handler.calls += 1
        handler.ticksSpent &+= ticks
        if ticks > handler.longestCallTicks { handler.longestCallTicks = ticks }
        if status == LUA_OK {
            return result.returned_true != 0 ? .claimed : .declined
        }
        return failure(of: handler, result)
    }

    @inline(never)
    private func failure(of handler: Handler, _ result: clua_result) -> HandlerOutcome {
        let error = LuaError(result: result, memoryCap: memoryCap)
        handler.errors += 1
        let admission = handler.errorLog.admit(at: ContinuousClock.now)
        if admission.log {
            var line = "handler for \(handler.selector) (\(handler.definedAt)) failed: \(error.description)"
            if admission.suppressedBefore > 0 {
                line += "\n(\(admission.suppressedBefore) more errors of this handler were not logged)"
            }
            log(.error, line)
        }
        return .failed(error)
    }

    /// Runs the given handlers in order until one claims; returns it, or nil.
    @discardableResult
    public func dispatch(to candidates: some Sequence<Handler>, with argument: LuaArgument = .nil) -> Handler? {
        for handler in candidates where call(handler, with: argument) == .claimed {
            return handler
        }
        return nil
    }

    /// Called by tapir.on (through CLua). Returns the new handler's id.
    func registerHandler(selector: String, keys: [HandlerKey]?, functionReference: Int32,
                         definedAt: String) -> Result<Int64, SelectorRefusal> {
        HandlerSelector.parse(selector, keys: keys).flatMap { parsed in
            if let refusal = selectorCheck?(parsed) {
                return .failure(SelectorRefusal(argument: 1, message: refusal))
            }
            nextHandlerID += 1
            handlerGeneration += 1
            hostHandlerChanges?.bump()
            handlers.append(Handler(id: nextHandlerID, selector: parsed, definedAt: definedAt,
                                    functionReference: functionReference,
                                    errorLogInterval: options.errorLogInterval))
            return .success(nextHandlerID)
        }
    }

    /// Called by handle:off(). Returns the function reference to release, if it was on.
    func removeHandler(id: Int64) -> Int32? {
        guard let index = handlers.firstIndex(where: { $0.id == id }) else { return nil }
        let handler = handlers.remove(at: index)
        handlerGeneration += 1
        hostHandlerChanges?.bump()
        handler.isRegistered = false
        return handler.functionReference
    }

    // MARK: tapir.state across reloads

    /// Copies `tapir.state` of `old` into this (fresh) state: plain data only, shared
    /// tables and cycles kept; functions and userdata skipped with a warning to this
    /// state's log. On error nothing is replaced.
    public func copyPersistentState(from old: LuaState) throws(LuaError) {
        var result = clua_result()
        let status = clua_copy_state(old.host, host, &result)
        try finish(status, &result)
    }
}

extension LuaState {
    /// Adds the host's runtime functions (timers, devices, stats, on_stop, now) to tapir.
    func installRuntime(_ callbacks: clua_runtime_callbacks) throws(LuaError) {
        var callbacks = callbacks
        try install { clua_install_runtime($0, &callbacks, &$1) }
    }

    /// Runs one of CLua's install entry points (a protected call that fills a result) on
    /// this state, and throws what it raised.
    func install(_ entry: (OpaquePointer?, inout clua_result) -> Int32) throws(LuaError) {
        var result = clua_result()
        let status = entry(host, &result)
        defer { clua_result_release(host, &result) }
        if status != LUA_OK { throw LuaError(result: result, memoryCap: memoryCap) }
    }
}
