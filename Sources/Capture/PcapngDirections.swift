import Glibc

/// The direction of each packet of a pcapng file, in file order, from its enhanced packet
/// blocks' `epb_flags` (bits 0-1: 1 inbound, 2 outbound); nil where a packet says none.
/// libpcap reads the packets but not their flags, so the file is walked once more here.
public enum PcapngDirections {
    /// Nil when the file is not pcapng (a classic pcap) or cannot be read.
    public static func read(path: String) -> [PacketDirection?]? {
        guard let bytes = contents(of: path) else { return nil }
        return scan(bytes)
    }

    /// The walk over a file's bytes; nil when they do not start a pcapng section.
    public static func scan(_ bytes: [UInt8]) -> [PacketDirection?]? {
        var bigEndian = false
        func word32(_ offset: Int) -> UInt32 {
            let value = UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
            return bigEndian ? value.byteSwapped : value
        }
        func word16(_ offset: Int) -> UInt16 {
            let value = UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
            return bigEndian ? value.byteSwapped : value
        }
        guard bytes.count >= 12, word32(0) == 0x0A0D_0D0A else { return nil }
        var directions: [PacketDirection?] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let type = word32(offset)
            if type == 0x0A0D_0D0A {
                // A section header: its byte-order magic says how the section is written.
                bigEndian = false
                if word32(offset + 8) != 0x1A2B_3C4D { bigEndian = true }
            }
            let length = Int(word32(offset + 4))
            guard length >= 12, length % 4 == 0, offset + length <= bytes.count else { break }
            switch type {
            case 6:   // enhanced packet block
                directions.append(direction(in: offset, length: length, word32: word32, word16: word16))
            case 2, 3:   // obsolete packet block, simple packet block
                directions.append(nil)
            default:
                break
            }
            offset += length
        }
        return directions
    }

    private static func direction(in block: Int, length: Int, word32: (Int) -> UInt32,
                                  word16: (Int) -> UInt16) -> PacketDirection? {
        guard length >= 32 else { return nil }
        let captured = Int(word32(block + 20))
        var option = block + 28 + (captured + 3) / 4 * 4
        let end = block + length - 4
        while option + 4 <= end {
            let code = word16(option)
            let size = Int(word16(option + 2))
            if code == 0 { break }
            if code == 2, size == 4, option + 8 <= end {
                return PacketDirection(rawValue: word32(option + 4) & 3)
            }
            option += 4 + (size + 3) / 4 * 4
        }
        return nil
    }

    private static func contents(of path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return ferror(file) == 0 ? bytes : nil
    }
}
