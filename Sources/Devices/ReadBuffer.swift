/// A caller-owned read buffer of 64 KiB, the largest packet a tun/tap can hand over,
/// whatever the MTU. Allocate one per loop and reuse it for every read.
/// `bytes` does not keep the buffer alive: hold the `ReadBuffer` itself (a stored
/// property, or `withExtendedLifetime`) for as long as the pointer is used.
public final class ReadBuffer {
    public static let size = 65536

    public let bytes: UnsafeMutableRawBufferPointer

    public init(size: Int = ReadBuffer.size) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    }

    deinit {
        bytes.deallocate()
    }
}
