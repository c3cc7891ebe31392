import CKernel
import Glibc
import SystemPackage

/// Reads, writes and the other calls on plain descriptors.
extension Syscalls {
    // MARK: the packet path

    // A device's reads and writes hand their errno to the device, which decides what it
    // means (`DeviceErrno`): they return the count, or -errno. They never throw and never
    // retry, and they trap on a programming error as every call here does.

    public static func read(_ fd: CInt, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
        return count >= 0 ? count : failedCount("read of fd \(fd)")
    }

    public static func readv(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        let result = Glibc.readv(fd, vectors, CInt(count))
        return result >= 0 ? result : failedCount("readv of fd \(fd)")
    }

    public static func write(_ fd: CInt, _ buffer: UnsafeRawBufferPointer) -> Int {
        let count = Glibc.write(fd, buffer.baseAddress, buffer.count)
        return count >= 0 ? count : failedCount("write of fd \(fd)")
    }

    public static func writev(_ fd: CInt, _ vectors: UnsafePointer<iovec>, _ count: Int) -> Int {
        let result = Glibc.writev(fd, vectors, CInt(count))
        return result >= 0 ? result : failedCount("writev of fd \(fd)")
    }

    /// -errno, after the check that it is not a programming error.
    private static func failedCount(_ operation: @autoclosure () -> String) -> Int {
        let code = errno
        Errno.preconditionAcceptable(Errno(rawValue: code), operation())
        return -Int(code)
    }

    // MARK: reading and writing

    /// Reads what is there into `buffer`; nil when nothing is (EAGAIN). 0 is end of file.
    public static func readNonBlocking(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int? {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError(operation: "read of fd \(fd)", errno: Errno(rawValue: code))
            }
        }
    }

    /// Writes all of `bytes` to a blocking descriptor (retrying short writes and EINTR).
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count >= 0 {
                offset += count
                continue
            }
            let code = errno
            if code == EINTR { continue }
            throw SystemError(operation: "write of fd \(fd)", errno: Errno(rawValue: code))
        }
    }

    /// Waits up to `milliseconds` (-1: forever) for `fds` to be readable; true when one is
    /// (its `revents` say which), false on timeout or an interrupted wait.
    public static func pollReadable(_ fds: inout [pollfd], milliseconds: Int32) throws(SystemError) -> Bool {
        for index in fds.indices {
            fds[index].events = Int16(POLLIN)
            fds[index].revents = 0
        }
        let count = poll(&fds, nfds_t(fds.count), milliseconds)
        if count >= 0 { return count > 0 }
        let code = errno
        if code == EINTR { return false }
        throw SystemError(operation: "poll", errno: Errno(rawValue: code))
    }

    // MARK: making and closing descriptors

    /// Closes a descriptor its caller owns. Linux frees the descriptor even when close
    /// reports an error (EINTR, EIO), so there is nothing to retry or report; EBADF, a
    /// descriptor closed twice, is a bug and traps.
    public static func close(_ fd: Int32) {
        if Glibc.close(fd) < 0 {
            Errno.preconditionAcceptable(Errno(rawValue: errno), "close of fd \(fd)")
        }
    }

    /// A pipe whose ends close on exec: (read, write).
    public static func pipe() throws(SystemError) -> (read: CInt, write: CInt) {
        var fds: [CInt] = [-1, -1]
        let result = tapir_pipe_cloexec(&fds)
        guard result == 0 else { throw SystemError(operation: "pipe2", errno: Errno(rawValue: -result)) }
        return (fds[0], fds[1])
    }

    /// A connected pair of Unix stream sockets that close on exec.
    public static func socketPair() throws(SystemError) -> (CInt, CInt) {
        var ends: [CInt] = [-1, -1]
        _ = try check("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends)
        }
        return (ends[0], ends[1])
    }

    /// Sets O_NONBLOCK on a descriptor.
    public static func setNonBlocking(_ fd: CInt) throws(SystemError) {
        let flags = try check("fcntl(F_GETFL) of fd \(fd)") { fcntl(fd, F_GETFL) }
        _ = try check("fcntl(F_SETFL) of fd \(fd)") { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
    }

    // MARK: files

    /// Whether something exists at `path` (used only to re-check files after lost events).
    public static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Whether `path` is a file this process may execute.
    public static func isExecutable(_ path: String) -> Bool {
        access(path, X_OK) == 0
    }

    /// This program's own path (/proc/self/exe), or nil when it cannot be read.
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Syscalls {
    /// Renames `source` to `destination`, replacing what is there (atomically, on one
    /// file system).
    public static func rename(_ source: String, to destination: String) throws(SystemError) {
        _ = try check("rename \(source) to \(destination)") { Glibc.rename(source, destination) }
    }

    /// Removes the name `path`; false when it could not (gone already, or not allowed).
    @discardableResult
    public static func unlink(_ path: String) -> Bool {
        Glibc.unlink(path) == 0
    }
}
