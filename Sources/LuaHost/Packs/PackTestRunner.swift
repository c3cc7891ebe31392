import Capture
import Devices
import Glibc
import Logging
import Reactor

/// One test of a pack: a `test_*` function of one of its `tests/*.lua` files.
public struct PackTestResult: Sendable {
    public var pack: String
    public var file: String
    public var test: String
    /// Why it failed; nil when it passed.
    public var failure: String?

    public var passed: Bool { failure == nil }
}

/// Runs a pack's tests: each `test_*` function of each `tests/*.lua` gets a fresh host
/// on memory devices with a manual clock, the pack loaded into it with its settings.
/// One device (`mem0`) unless the file asks for more with `test.devices(N)`: then
/// `mem0`...`mem<N-1>`, dev.id 1...N. `test.settings{...}` in the file puts settings
/// over those given. The test file runs in a state of its own (untrusted) with `test`
/// (see PackTestAPI) and `tapir.build`. A test that asserts nothing fails.
public struct PackTestRunner {
    public var logger: Logger
    /// Host options for the pack's host and the tests' (the limits).
    public var options: TapirHost.Options
    /// Steps one test may take (injects, reads...) before it is stopped.
    public var stepLimit = 100_000

    public init(logger: Logger, options: TapirHost.Options = TapirHost.Options()) {
        self.logger = logger
        self.options = options
        self.options.trusted = false
    }

    /// The pack's own log lines (a switch's counters at on_stop, say) would bury the
    /// results: below warning they are shown only when the runner logs at debug.
    private var packLogger: Logger {
        var quieter = logger
        if quieter.logLevel > .debug, quieter.logLevel < .warning { quieter.logLevel = .warning }
        return quieter
    }

    /// The pack's test files, sorted.
    public static func testFiles(of pack: Pack) -> [String] {
        let directory = pack.directory + "/tests"
        return PackSearchPath.entries(of: directory).filter { $0.hasSuffix(".lua") }.sorted()
            .map { directory + "/" + $0 }
    }

    public func run(_ pack: Pack, config: [String: PackValue]) -> [PackTestResult] {
        let files = Self.testFiles(of: pack)
        guard !files.isEmpty else {
            return [PackTestResult(pack: pack.name, file: pack.directory + "/tests", test: "(none)",
                                   failure: "no tests/*.lua files")]
        }
        return files.flatMap { run(file: $0, of: pack, config: config) }
    }

    private func run(file: String, of pack: Pack, config: [String: PackValue]) -> [PackTestResult] {
        func result(_ test: String, _ failure: String?) -> PackTestResult {
            PackTestResult(pack: pack.name, file: file, test: test, failure: failure)
        }
        let testHost = TapirHost(options: options, timers: TimerQueue(clock: ManualClock()), logger: logger)
        defer { testHost.stop() }
        let decoder = MemoryDevice(name: "decode0", mode: .tap)
        let script: Script
        let names: [String]
        do {
            let decoderDevice = try testHost.add(decoder)
            script = try testHost.makeScript(path: file, name: file) { (script) throws(LuaError) in
                try script.state.load(chunk: PackTestAPI.prelude(), name: "test API")
                try Self.call(script.state, "configure", PackValue.encoded(config))
            }
            testHost.scripts.append(script)
            names = try text(script.state, "return __T.names()").split(separator: "\n").map(String.init)
            guard !names.isEmpty else { return [result("(file)", "no test_ functions in the file")] }
            let deviceCount = Int(try text(script.state, "return tostring(__T.devices)")) ?? 1
            let fileConfig = try Self.config(config, overriddenBy: try text(script.state, "return __T.settings"),
                                             of: pack)
            try Self.call(script.state, "configure", PackValue.encoded(fileConfig))
            return names.map { name in
                result(name, runTest(name, script: script, decoder: (decoder, decoderDevice, testHost),
                                     pack: pack, config: fileConfig, deviceCount: deviceCount))
            }
        } catch {
            return [result("(file)", "\(error)")]
        }
    }

    /// Calls the test API's __T.<function> with plain data.
    private static func call(_ state: LuaState, _ function: String, _ argument: EncodedValue) throws(LuaError) {
        let reference = try state.evaluate("return __T.\(function)", name: "test")
        defer { state.release(reference) }
        try state.call(reference, with: [.encoded(argument)])
    }

    /// Runs one test function; returns why it failed, or nil.
    private func runTest(_ name: String, script: Script, decoder: (MemoryDevice, HostDevice, TapirHost),
                         pack: Pack, config: [String: PackValue], deviceCount: Int) -> String? {
        let timers = TimerQueue(clock: ManualClock(now: TimerInstant(nanoseconds: 1_000_000_000)))
        let host = TapirHost(options: options, timers: timers, logger: packLogger)
        defer { host.stop() }
        let devices = (0..<max(deviceCount, 1)).map { MemoryDevice(name: "mem\($0)", mode: .tap) }
        let state = script.state
        do {
            let hostDevices = try devices.map { try host.add($0) }
            try host.load(pack: pack, config: config)
            try Self.call(state, "begin", .string(name))
            for _ in 0..<stepLimit {
                let step = try text(state, "return __T.step()")
                let parts = step.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
                let kind = parts.first.map(String.init) ?? ""
                let argument = parts.count > 1 ? String(parts[1]) : ""
                switch kind {
                case "pass":
                    return argument == "0" ? "asserted nothing (use test.expect or test.equal)" : nil
                case "fail":
                    return argument
                case "inject":
                    // "PORT\tHEX": the test API has checked PORT against the device count.
                    let fields = argument.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
                    let index = Self.deviceIndex(fields.first, count: devices.count)
                    devices[index].inject(Self.bytes(hex: fields.count > 1 ? String(fields[1]) : ""))
                    host.pump(hostDevices[index])
                case "written":
                    let index = Self.deviceIndex(Substring(argument), count: devices.count)
                    try Self.call(state, "answer", .array(devices[index].takeWritten().map { .string(Self.hex($0)) }))
                case "advance":
                    timers.advance(by: .milliseconds(Int64(argument) ?? 0))
                case "pcap":
                    try answerPcap(argument, beside: script.path, state: state)
                case "decode":
                    decoder.0.inject(Self.bytes(hex: argument))
                    decoder.2.pump(decoder.1)
                default:
                    return "the test yielded '\(kind)' (test functions must not call coroutine.yield)"
                }
            }
            return "stopped after \(stepLimit) steps"
        } catch {
            return "\(error)"
        }
    }

    /// Hands the frames of a pcap file to the test, or fails the test saying why not.
    private func answerPcap(_ name: String, beside testFile: String, state: LuaState) throws(LuaError) {
        let directory = testFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let path = name.hasPrefix("/") ? name : (directory.isEmpty ? name : directory + "/" + name)
        let frames: [EncodedValue]
        do {
            let reader = try PcapReader(path: path)
            defer { reader.close() }
            frames = try reader.readAll().map { .string(Self.hex($0.bytes)) }
        } catch {
            try Self.call(state, "fail", .string("test.pcap: \(error)"))
            return
        }
        try Self.call(state, "answer", .array(frames))
    }

    /// `config` with the settings a test file asked for (test.settings: "key=value"
    /// lines) put over it, each checked against the manifest as --set is.
    static func config(_ config: [String: PackValue], overriddenBy lines: String,
                       of pack: Pack) throws(PackError) -> [String: PackValue] {
        var given: [String: String] = [:]
        for line in lines.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            given[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        guard !given.isEmpty else { return config }
        let resolved: [String: PackValue]
        do {
            resolved = try pack.manifest.resolve(given)
        } catch {
            throw PackError("test.settings: \(error)")
        }
        var merged = config
        for key in given.keys { merged[key] = resolved[key] }
        return merged
    }

    /// The index in the device list of a 1-based device number the test named (the
    /// first device for anything out of range).
    static func deviceIndex(_ number: Substring?, count: Int) -> Int {
        guard let number, let value = Int(number), value >= 1, value <= count else { return 0 }
        return value - 1
    }

    private func text(_ state: LuaState, _ chunk: String) throws(LuaError) -> String {
        let reference = try state.evaluate(chunk, name: "test")
        defer { state.release(reference) }
        return try state.string(reference)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    static func bytes(hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in hex.utf8 {
            let value: UInt8
            switch character {
            case 0x30...0x39: value = character - 0x30
            case 0x61...0x66: value = character - 0x61 + 10
            default: continue
            }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }
}
