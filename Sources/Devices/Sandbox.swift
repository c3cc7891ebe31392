import Glibc
import Kernel
import Synchronization

/// A private network namespace, `PREFIX-<pid>-<n>`, made with iproute2's `ip`, to hold
/// tun/tap devices with the kernel side addressed 198.18.0.1/24 and 2001:2::1/64.
/// Removing it (explicitly, or when the last reference goes) deletes the namespace and
/// with it every device inside. Namespaces left by a process that died (its pid no longer
/// alive) are removed when the next sandbox with the same prefix is made.
public final class Sandbox {
    public static let kernelIPv4Address = kernelAddresses(host: 1).ipv4
    public static let kernelIPv6Address = kernelAddresses(host: 1).ipv6
    public static let defaultPrefix = "tapir"

    /// The namespace name, for `ip netns exec NAME ...`.
    public let namespace: String
    public let prefix: String
    /// Names of the devices moved in, in order.
    public private(set) var devices: [String] = []
    /// Namespaces of dead processes removed when this sandbox was made.
    public let removedStale: [String]

    private let ipPath: String
    private let timeout: Duration
    private var removed = false
    private static let sequence = Atomic<Int>(0)

    /// Removes stale namespaces of `prefix`, then makes a fresh one with loopback up.
    public init(prefix: String = Sandbox.defaultPrefix, timeout: Duration = .seconds(10)) throws(DeviceError) {
        guard let program = ChildProcess.locate("ip") else {
            throw .programNotFound(program: "ip", hint: "install iproute2 (apt-get install iproute2)")
        }
        ipPath = program
        self.prefix = prefix
        self.timeout = timeout
        removedStale = try Self.removeStale(prefix: prefix, ipPath: program, timeout: timeout)
        let n = Self.sequence.wrappingAdd(1, ordering: .relaxed).oldValue
        namespace = "\(prefix)-\(Syscalls.processID)-\(n)"
        try Self.check(ChildProcess.run([program, "netns", "add", namespace], timeout: timeout),
                       "ip netns add \(namespace)")
        do throws(DeviceError) {
            try ip(["link", "set", "lo", "up"])
        } catch {
            remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    /// The kernel side's addresses as host `number` of the sandbox network:
    /// 198.18.0.N/24 and 2001:2::N/64 (N in hex there). Host 1 is the single sandbox's.
    public static func kernelAddresses(host number: Int) -> (ipv4: String, ipv6: String) {
        ("198.18.0.\(number)/24", "2001:2::\(String(number, radix: 16))/64")
    }

    /// Moves a device of this process's namespace into the sandbox (its open descriptors
    /// stay valid), brings it up and, when `addresses`, gives the kernel side the
    /// addresses of host `host` (198.18.0.1/24 and 2001:2::1/64 by default; IPv6 nodad).
    /// Open every queue of a multi-queue device first.
    public func adopt(_ device: String, addresses: Bool = true, host: Int = 1) throws(DeviceError) {
        try Self.check(ChildProcess.run([ipPath, "link", "set", "dev", device, "netns", namespace], timeout: timeout),
                       "ip link set dev \(device) netns \(namespace)")
        devices.append(device)
        try ip(["link", "set", "dev", device, "up"])
        if addresses {
            let kernel = Self.kernelAddresses(host: host)
            try ip(["addr", "add", kernel.ipv4, "dev", device])
            try ip(["-6", "addr", "add", kernel.ipv6, "dev", device, "nodad"])
        }
    }

    /// Makes a veth pair instead of a tap (`--sandbox-link veth`): `name` stays in this
    /// process's namespace, up, for a packet-socket device to serve; its peer, `eth0`,
    /// goes into the sandbox, up, with the kernel side's addresses of host `host`.
    /// Removing the sandbox deletes the pair.
    public func makeVethPair(_ name: String, host: Int = 1) throws(DeviceError) {
        let peer = "eth0"
        try Self.check(ChildProcess.run([ipPath, "link", "add", name, "type", "veth", "peer", "name", peer,
                                         "netns", namespace], timeout: timeout),
                       "ip link add \(name) type veth peer name \(peer) netns \(namespace)")
        devices.append(peer)
        // No IPv6 link-local address of our own on this end: the host's scripts answer for it.
        _ = try? ChildProcess.run([ipPath, "link", "set", "dev", name, "addrgenmode", "none"], timeout: timeout)
        try Self.check(ChildProcess.run([ipPath, "link", "set", "dev", name, "up"], timeout: timeout),
                       "ip link set dev \(name) up")
        try ip(["link", "set", "dev", peer, "up"])
        let kernel = Self.kernelAddresses(host: host)
        try ip(["addr", "add", kernel.ipv4, "dev", peer])
        try ip(["-6", "addr", "add", kernel.ipv6, "dev", peer, "nodad"])
    }

    /// `adopt` for an open device.
    public func adopt(_ device: some PacketDevice, addresses: Bool = true, host: Int = 1) throws(DeviceError) {
        try adopt(device.name, addresses: addresses, host: host)
    }

    /// Runs `ip -n NAMESPACE arguments...`; a non-zero exit throws with ip's message.
    @discardableResult
    public func ip(_ arguments: [String]) throws(DeviceError) -> ProcessOutput {
        let command = [ipPath, "-n", namespace] + arguments
        return try Self.check(ChildProcess.run(command, timeout: timeout), command.joined(separator: " "))
    }

    /// Runs a command inside the namespace (`ip netns exec`) to the end; its status is
    /// returned, not checked.
    public func run(_ command: [String], timeout: Duration? = nil) throws(DeviceError) -> ProcessOutput {
        try ChildProcess.run([ipPath, "netns", "exec", namespace] + command, timeout: timeout ?? self.timeout)
    }

    /// Starts a command inside the namespace without waiting for it.
    public func start(_ command: [String]) throws(DeviceError) -> ChildProcess {
        try ChildProcess.spawn([ipPath, "netns", "exec", namespace] + command)
    }

    /// Deletes the namespace and the devices in it. Idempotent; errors are ignored
    /// (the namespace may already be gone).
    public func remove() {
        guard !removed else { return }
        removed = true
        _ = try? ChildProcess.run([ipPath, "netns", "del", namespace], timeout: timeout)
    }

    /// True while the namespace exists (`ip netns list`).
    public var exists: Bool {
        ((try? Self.namespaces(ipPath: ipPath, timeout: timeout)) ?? []).contains(namespace)
    }

    /// Removes `PREFIX-<pid>-<n>` namespaces whose pid is no longer alive; returns their names.
    @discardableResult
    public static func removeStale(prefix: String = Sandbox.defaultPrefix,
                                   timeout: Duration = .seconds(10)) throws(DeviceError) -> [String] {
        guard let ip = ChildProcess.locate("ip") else {
            throw .programNotFound(program: "ip", hint: "install iproute2 (apt-get install iproute2)")
        }
        return try removeStale(prefix: prefix, ipPath: ip, timeout: timeout)
    }

    private static func removeStale(prefix: String, ipPath: String, timeout: Duration) throws(DeviceError) -> [String] {
        var removed: [String] = []
        for name in try namespaces(ipPath: ipPath, timeout: timeout) {
            guard let pid = ownerPID(of: name, prefix: prefix), !Syscalls.isAlive(pid) else { continue }
            if (try? ChildProcess.run([ipPath, "netns", "del", name], timeout: timeout))?.succeeded == true {
                removed.append(name)
            }
        }
        return removed
    }

    /// The pid in `PREFIX-<pid>-<n>`, or nil when the name is not of that form.
    static func ownerPID(of name: String, prefix: String) -> pid_t? {
        guard name.hasPrefix(prefix + "-") else { return nil }
        let parts = name.dropFirst(prefix.count + 1).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let pid = pid_t(parts[0]), pid > 0, Int(parts[1]) != nil
        else { return nil }
        return pid
    }

    private static func namespaces(ipPath: String, timeout: Duration) throws(DeviceError) -> [String] {
        let output = try check(ChildProcess.run([ipPath, "netns", "list"], timeout: timeout), "ip netns list")
        // Lines read "NAME" or "NAME (id: N)".
        return output.stdout.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first.map(String.init)
        }
    }

    @discardableResult
    private static func check(_ output: ProcessOutput, _ command: String) throws(DeviceError) -> ProcessOutput {
        if output.timedOut { throw .commandTimedOut(command: command) }
        guard output.status == 0 else {
            throw .commandFailed(command: command, status: output.status, stderr: output.stderr)
        }
        return output
    }
}
