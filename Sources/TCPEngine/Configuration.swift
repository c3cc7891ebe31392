/// The engine's settings and limits. Defaults suit a lab host: short TIME_WAIT, small
/// buffers, limits that keep a peer that opens thousands of connections or never reads
/// from taking the host's memory.
public struct TCPConfiguration: Sendable {
    /// The device's MTU; the MSS sent on a SYN is this less the IP and TCP headers.
    public var mtu = 1500
    /// The most payload one segment handed to the host may carry, for a device that cuts
    /// segments itself (a tap's offloads: TSO): data then goes in super-segments of whole
    /// pieces of the MSS, up to this (at most 65000: an IP datagram's length is 16 bits).
    /// 0 (the default): every segment at most one MSS.
    public var superSegmentBytes = 0
    /// Bytes of send and receive buffer per connection, allocated when it is set up.
    public var sendBufferSize = 64 * 1024
    public var receiveBufferSize = 64 * 1024
    /// What a buffer may grow to, on demand, while `maxBufferBytes` allows (the receive
    /// window offered follows, with window scaling). Below the size (as by default): the
    /// size, no growth.
    public var sendBufferLimit = 0
    public var receiveBufferLimit = 0
    /// Connections in all (any state, TIME_WAIT included) and their buffer bytes in all.
    public var maxConnections = 1024
    public var maxBufferBytes = 64 * 1024 * 1024
    /// Defaults for a listener: connections made through it that still exist (accepted or
    /// not), and half-open ones (SYN-RECEIVED) before SYN cookies answer instead.
    public var listenerConnectionLimit = 128
    public var synBacklog = 16
    public var synCookies = true
    /// 2*MSL. RFC 9293 says four minutes; a lab wants ports back soon.
    public var timeWait = TCPDuration.seconds(1)
    /// How long a connection the application has closed may sit in FIN-WAIT-2.
    public var finWait2Timeout = TCPDuration.seconds(60)
    /// The longest an ACK of received data waits (RFC 9293 section 3.8.6.3: under 0.5 s);
    /// every second full-sized segment is acknowledged at once. Zero: no delay.
    public var delayedAck = TCPDuration.milliseconds(40)
    /// Nagle's algorithm (RFC 9293 section 3.7.4) for new connections; off by default.
    public var nagle = false
    /// Options offered on SYNs and accepted from them.
    public var windowScaling = true
    public var timestamps = true
    public var selectiveAcknowledgments = true
    /// RFC 6298: initial RTO 1 s, at least 1 s, at most 60 s (backed off by doubling).
    public var initialRTO = TCPDuration.seconds(1)
    public var minRTO = TCPDuration.seconds(1)
    public var maxRTO = TCPDuration.seconds(60)
    /// Retransmissions of one segment before the connection is given up (timedOut).
    public var maxRetransmissions = 8
    public var maxSYNRetransmissions = 5
    /// Out-of-order ranges held per connection.
    public var reassemblyRanges = 8
    /// RFC 5961 section 7: challenge ACKs sent per second, all connections together.
    public var challengeACKLimit = 100
    /// Segments whose checksum does not verify are dropped (and counted). A host whose
    /// device checked them already may turn this off.
    public var verifyChecksums = true
    /// Key of the initial sequence numbers, timestamp offsets and SYN cookies.
    public var secrets: TCPSecrets

    public init(secrets: TCPSecrets = .random()) {
        self.secrets = secrets
    }

    /// The window scale this side offers (RFC 7323): the least shift that lets the receive
    /// buffer's size be advertised; nil with window scaling off.
    var offeredWindowShift: UInt8? {
        guard windowScaling else { return nil }
        var shift: UInt8 = 0
        let largest = Swift.max(receiveBufferSize, receiveBufferLimit)
        while shift < 14 && largest >> Int(shift) > 65535 { shift += 1 }
        return shift
    }
}

/// Per-listener settings; nil takes the engine's default.
public struct TCPListenOptions: Sendable {
    public var connectionLimit: Int?
    public var synBacklog: Int?
    public var mtu: Int?
    public var nagle: Bool?
    public init(connectionLimit: Int? = nil, synBacklog: Int? = nil, mtu: Int? = nil, nagle: Bool? = nil) {
        self.connectionLimit = connectionLimit
        self.synBacklog = synBacklog
        self.mtu = mtu
        self.nagle = nagle
    }
}
