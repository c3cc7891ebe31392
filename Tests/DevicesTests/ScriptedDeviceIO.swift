import Devices
import Glibc
import SystemPackage

/// A fake kernel for `TunTapDevice`: reads, writes and opens return scripted results,
/// and every call is recorded, so tests inject errno sequences through the device's own
/// IO protocol.
final class ScriptedDeviceIO: DeviceIO {
    enum ReadStep {
        case bytes([UInt8])
        case errno(CInt)
    }

    var openOutcome: TunTapOpenOutcome = .opened(fd: 100, name: "scripted0")
    var mtu = 1500
    var mac: [UInt8] = [0x02, 0, 0, 0, 0, 0x01]
    var readSteps: [ReadStep] = []
    /// Results for successive write/writev calls: -errno, or anything >= 0 for success.
    var writeResults: [Int] = []

    private(set) var openRequests: [TunTapOpenRequest] = []
    private(set) var readCalls = 0
    private(set) var writeCalls = 0
    /// Each write/writev call's bytes, the iovecs gathered, one entry per call.
    private(set) var writes: [[UInt8]] = []
    /// The iovec lengths and bases of the last writev.
    private(set) var lastWriteVectors: [(base: UnsafeMutableRawPointer?, length: Int)] = []
    private(set) var closed: [CInt] = []

    func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        readCalls += 1
        guard !readSteps.isEmpty else { return -Int(EAGAIN) }
        switch readSteps.removeFirst() {
        case .errno(let code):
            return -Int(code)
        case .bytes(let bytes):
            let count = min(bytes.count, buffer.count)
            buffer.copyBytes(from: bytes[0..<count])
            return count
        }
    }

    func readv(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        readCalls += 1
        guard !readSteps.isEmpty else { return -Int(EAGAIN) }
        switch readSteps.removeFirst() {
        case .errno(let code):
            return -Int(code)
        case .bytes(let bytes):
            var offset = 0
            for index in 0..<count where offset < bytes.count {
                let target = UnsafeMutableRawBufferPointer(start: vectors[index].iov_base, count: vectors[index].iov_len)
                let chunk = min(target.count, bytes.count - offset)
                target.copyBytes(from: bytes[offset..<offset + chunk])
                offset += chunk
            }
            return offset
        }
    }

    func write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Int {
        writeCalls += 1
        let result = writeResults.isEmpty ? buffer.count : writeResults.removeFirst()
        if result >= 0 { writes.append(Array(buffer)) }
        return result >= 0 ? buffer.count : result
    }

    func writev(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        writeCalls += 1
        lastWriteVectors = (0..<count).map { (vectors[$0].iov_base, vectors[$0].iov_len) }
        var gathered: [UInt8] = []
        for index in 0..<count {
            gathered += UnsafeRawBufferPointer(start: vectors[index].iov_base, count: vectors[index].iov_len)
        }
        let result = writeResults.isEmpty ? gathered.count : writeResults.removeFirst()
        if result >= 0 { writes.append(gathered) }
        return result >= 0 ? gathered.count : result
    }

    func close(_ fd: CInt) { closed.append(fd) }

    func openTunTap(_ request: TunTapOpenRequest) -> TunTapOpenOutcome {
        openRequests.append(request)
        return openOutcome
    }

    func setPersist(_ fd: CInt, _ persist: Bool) -> CInt { 0 }
    private(set) var offloadRequests: [UInt32] = []
    func setOffload(_ fd: CInt, _ offloads: UInt32) -> CInt {
        offloadRequests.append(offloads)
        return 0
    }
    func setOwner(_ fd: CInt, _ owner: uid_t) -> CInt { 0 }
    func setGroup(_ fd: CInt, _ group: gid_t) -> CInt { 0 }
    func interfaceMTU(_ name: String) -> Int { mtu }
    func interfaceMAC(_ name: String) -> Result<[UInt8], Errno> { .success(mac) }
    func interfaceIndex(_ name: String) -> Int { 7 }

    // The link a LinkWatcher follows: its namespace's descriptor (or -errno), whether
    // sockets can be made there, the MTU, and what successive netlink reads say.
    var namespaceResult: CInt = -EOPNOTSUPP
    var linkSocketsError: Errno?
    var linkSocketsMade = 0
    /// The namespace descriptor of each linkSockets call (negative: the caller's own).
    var linkSocketsNamespaces: [CInt] = []
    var linkChanges: [Result<LinkChanges, Errno>] = []

    func deviceNamespace(_ tunFD: CInt) -> CInt { namespaceResult }
    func deviceName(_ tunFD: CInt) -> Result<String, Errno> { .success("scripted0") }
    func linkSockets(in namespaceFD: CInt) -> Result<(netlink: CInt, control: CInt), Errno> {
        linkSocketsNamespaces.append(namespaceFD)
        if let linkSocketsError { return .failure(linkSocketsError) }
        linkSocketsMade += 1
        return .success((CInt(200 + 2 * linkSocketsMade), CInt(201 + 2 * linkSocketsMade)))
    }
    func linkMTUAndIndex(_ controlFD: CInt, _ name: String) -> Result<(mtu: Int, index: Int), Errno> {
        .success((mtu, 7))
    }
    func readLinkChanges(_ netlinkFD: CInt, index: Int) -> Result<LinkChanges, Errno> {
        linkChanges.isEmpty ? .success(LinkChanges()) : linkChanges.removeFirst()
    }
    var interfaceUp: CInt = 0
    func setInterfaceUp(_ name: String) -> CInt { interfaceUp }
}
