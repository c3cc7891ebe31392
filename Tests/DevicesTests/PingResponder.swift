import Devices
import Glibc
import XCTest

/// A tiny host at 198.18.0.2 / 02:00:00:00:00:02 for real-device tests: answers ARP
/// requests (tap) and ICMP echo requests (tap and tun), with its own byte handling and
/// checksum (independent of the Packets target, which ChecksumCompletionTests holds C to).
final class PingResponder {
    static let address: [UInt8] = [198, 18, 0, 2]
    static let mac: [UInt8] = [0x02, 0, 0, 0, 0, 0x02]

    let mode: DeviceMode
    private(set) var arpReplies = 0
    private(set) var echoReplies = 0

    init(mode: DeviceMode) {
        self.mode = mode
    }

    /// The answer to `packet`, or nil when it is not for us.
    func reply(to packet: UnsafeRawBufferPointer) -> [UInt8]? {
        let bytes = Array(packet)
        switch mode {
        case .tap:
            guard bytes.count >= 14 else { return nil }
            let etherType = UInt16(bytes[12]) << 8 | UInt16(bytes[13])
            if etherType == 0x0806 { return arpReply(bytes) }
            guard etherType == 0x0800, var reply = echoReply(Array(bytes[14...])) else { return nil }
            reply.insert(contentsOf: Array(bytes[6..<12]) + Self.mac + [0x08, 0x00], at: 0)
            return reply
        case .tun:
            return echoReply(bytes)
        }
    }

    private func arpReply(_ frame: [UInt8]) -> [UInt8]? {
        // Ethernet(14) + ARP for IPv4 over Ethernet(28): op at 20, sha 22, spa 28, tha 32, tpa 38.
        guard frame.count >= 42, frame[20] == 0, frame[21] == 1, Array(frame[38..<42]) == Self.address else { return nil }
        let senderMAC = Array(frame[22..<28])
        let senderIP = Array(frame[28..<32])
        arpReplies += 1
        return senderMAC + Self.mac + [0x08, 0x06]
            + [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x02]
            + Self.mac + Self.address + senderMAC + senderIP
    }

    private func echoReply(_ datagram: [UInt8]) -> [UInt8]? {
        guard datagram.count >= 20, datagram[0] >> 4 == 4 else { return nil }
        let headerLength = Int(datagram[0] & 0x0f) * 4
        let totalLength = Int(datagram[2]) << 8 | Int(datagram[3])
        guard headerLength >= 20, totalLength >= headerLength + 8, totalLength <= datagram.count,
              datagram[9] == 1, Array(datagram[16..<20]) == Self.address, datagram[headerLength] == 8
        else { return nil }
        var reply = Array(datagram[0..<totalLength])
        let source = Array(reply[12..<16])
        reply.replaceSubrange(12..<16, with: Self.address)
        reply.replaceSubrange(16..<20, with: source)
        reply[8] = 64
        reply[10] = 0
        reply[11] = 0
        let ipSum = internetChecksum(reply[0..<headerLength])
        reply[10] = UInt8(ipSum >> 8)
        reply[11] = UInt8(ipSum & 0xff)
        reply[headerLength] = 0  // echo reply
        reply[headerLength + 2] = 0
        reply[headerLength + 3] = 0
        let icmpSum = internetChecksum(reply[headerLength...])
        reply[headerLength + 2] = UInt8(icmpSum >> 8)
        reply[headerLength + 3] = UInt8(icmpSum & 0xff)
        echoReplies += 1
        return reply
    }
}

/// RFC 1071: the ones' complement of the ones' complement sum of 16-bit words.
func internetChecksum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
    var sum: UInt32 = 0
    var index = bytes.startIndex
    while index + 1 < bytes.endIndex {
        sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
        index += 2
    }
    if index < bytes.endIndex { sum += UInt32(bytes[index]) << 8 }
    while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(sum)
}
