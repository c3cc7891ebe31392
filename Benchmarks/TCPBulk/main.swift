// A bulk transfer between two TCP engines back to back in memory (a client that writes,
// a server that reads), to count heap allocations per segment in steady state and
// segments per second. Checks every byte that arrives. Exits 1 if a steady-state segment
// allocated, or the data came wrong.
//
//   tapir-bench-tcp [MEGABYTES] [--loss N] [--super BYTES]
//     (default 64; --loss drops every Nth data segment; --super: the client sends
//     super-segments of up to BYTES, as with a tap's offloads, which the server takes whole)
//
// Not under AddressSanitizer: MallocCounter's malloc hands ASan memory it does not know
// and the program aborts before main (BulkTransferTests skip it there).
#if canImport(Glibc)
import Glibc
#endif
import MallocCounter
import Packets
import TCPEngine

/// Segments in flight one way: fixed slots, allocated once.
struct Wire {
    let slotSize: Int
    let storage: UnsafeMutableRawBufferPointer
    let lengths: UnsafeMutablePointer<Int>
    let sources: UnsafeMutablePointer<TCPEndpoint>
    let destinations: UnsafeMutablePointer<TCPEndpoint>
    let capacity: Int
    var count = 0

    init(capacity: Int, slotSize: Int = 2048) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 8)
        lengths = .allocate(capacity: capacity)
        let any = TCPEndpoint(.v4(.any), 0)
        sources = .allocate(capacity: capacity)
        sources.initialize(repeating: any, count: capacity)
        destinations = .allocate(capacity: capacity)
        destinations.initialize(repeating: any, count: capacity)
    }

    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[index * slotSize..<(index + 1) * slotSize])
    }

    mutating func put(_ segment: TCPOutgoingSegment) {
        precondition(count < capacity, "wire full")
        lengths[count] = segment.write(into: slot(count))
        sources[count] = segment.source
        destinations[count] = segment.destination
        count += 1
    }

    /// Hands every segment to `engine` and empties the wire.
    mutating func deliver(to engine: TCPEngine, now: TCPInstant, dropEvery: Int, dropped: inout Int, seen: inout Int) {
        for index in 0..<count {
            let bytes = UnsafeRawBufferPointer(rebasing: slot(index)[0..<lengths[index]])
            guard let packet = try? TCPPacket(bytes) else { fatalError("the engine wrote a segment TCPPacket refuses") }
            seen += 1
            if dropEvery > 0 && packet.payload.count > 0 && seen % dropEvery == 0 {
                dropped += 1
                continue
            }
            guard engine.process(now: now, source: sources[index], destination: destinations[index], segment: packet) else {
                fatalError("segment not claimed")
            }
        }
        count = 0
    }
}

func pattern(_ offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: offset &* 13 &+ offset >> 10) }

var arguments = Array(CommandLine.arguments.dropFirst())
var dropEvery = 0
if let at = arguments.firstIndex(of: "--loss"), at + 1 < arguments.count {
    dropEvery = Int(arguments[at + 1]) ?? 0
    arguments.removeSubrange(at...at + 1)
}
var superSegmentBytes = 0
if let at = arguments.firstIndex(of: "--super"), at + 1 < arguments.count {
    superSegmentBytes = Int(arguments[at + 1]) ?? 0
    arguments.removeSubrange(at...at + 1)
}
let megabytes = arguments.first.flatMap { Int($0) } ?? 64
let total = megabytes << 20

@inline(never) func allocateAnArray() -> [Int] { [Int](repeating: 7, count: 64) }
let countedBefore = malloc_counter_allocations()
let probe = allocateAnArray()
guard malloc_counter_allocations() > countedBefore, probe.count == 64 else {
    fatalError("MallocCounter does not see the Swift runtime's allocations: the counts would be wrong")
}

var config = TCPConfiguration(secrets: TCPSecrets(key0: 1, key1: 2))
config.sendBufferSize = 256 * 1024
config.receiveBufferSize = 256 * 1024
config.minRTO = .milliseconds(200)
let server = TCPEngine(configuration: config)
var clientConfig = config
clientConfig.superSegmentBytes = superSegmentBytes
let client = TCPEngine(configuration: clientConfig)
let serverEndpoint = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 2)), 5001)
let clientEndpoint = TCPEndpoint(.v4(IPv4Address(198, 18, 0, 1)), 40000)
let listener = try server.listen(serverEndpoint)
var now = TCPInstant(microseconds: 1_000_000)
let sending = try client.connect(from: clientEndpoint, to: serverEndpoint, now: now)
var receiving: TCPSocket?

let source = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
for index in 0..<source.count { source[index] = pattern(index) }
let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 8)
var toServer = superSegmentBytes > 0 ? Wire(capacity: 512, slotSize: 65536 + 128) : Wire(capacity: 4096)
var toClient = Wire(capacity: 4096)
var written = 0
var received = 0
var segments = 0
var dropped = 0
var seenToServer = 0
var seenToClient = 0
var steadyFrom = -1
var steadyAllocations: UInt64 = 0
var steadySegments = 0
var rounds = 0
let started = ContinuousClock.now

while received < total {
    rounds += 1
    if rounds > 50_000_000 { fatalError("no progress: \(received) of \(total) bytes") }
    // The client writes what fits, the pattern continuing across the source's wrap.
    while written < total {
        let offset = written % source.count
        let piece = UnsafeRawBufferPointer(rebasing: source[offset..<Swift.min(source.count, offset + total - written)])
        let taken = client.write(sending, piece)
        written += taken
        if taken < piece.count { break }
    }
    let before = malloc_counter_allocations()
    let segmentsBefore = seenToServer + seenToClient
    client.dispatch(now: now) { toServer.put($0) }
    toServer.deliver(to: server, now: now, dropEvery: dropEvery, dropped: &dropped, seen: &seenToServer)
    if receiving == nil { receiving = server.accept(listener) }
    if let receiving {
        while true {
            let count = server.read(receiving, into: sink)
            if count == 0 { break }
            for index in 0..<count where sink[index] != pattern((received + index) % source.count) {
                fatalError("byte \(received + index) arrived wrong")
            }
            received += count
        }
    }
    server.dispatch(now: now) { toClient.put($0) }
    toClient.deliver(to: client, now: now, dropEvery: 0, dropped: &dropped, seen: &seenToClient)
    server.pollEvents { _, _ in }
    client.pollEvents { _, _ in }
    // Steady state: past the first megabyte and before the last.
    if received > 1 << 20 && received < total - (1 << 20) {
        steadyAllocations += malloc_counter_allocations() - before
        steadySegments += seenToServer + seenToClient - segmentsBefore
    }
    // Time moves 100 us a round; when nothing moved, to the next timer.
    now = now + TCPDuration(microseconds: 100)
    if toServer.count == 0 && toClient.count == 0, seenToServer + seenToClient == segmentsBefore {
        var next = client.nextDeadline(now: now)
        if let other = server.nextDeadline(now: now), next == nil || other < next! { next = other }
        if let next, next > now { now = next }
    }
}
segments = seenToServer + seenToClient
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let counters = client.counters(sending)!
print("bulk transfer: \(megabytes) MiB in \(segments) segments (\(seenToServer) data, \(seenToClient) ACKs), \(Int(Double(segments) / seconds)) segments/s, \(Int(Double(total) / seconds / 1e6)) MB/s")
print("retransmitted \(counters.retransmittedSegments), fast retransmits \(counters.fastRetransmits), timeouts \(counters.timeouts), dropped \(dropped)")
print("steady state: \(steadyAllocations) heap allocations in \(steadySegments) segments")
if steadySegments == 0 || steadyAllocations > 0 { exit(1) }
