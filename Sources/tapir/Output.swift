import Kernel

/// Unbuffered writes to standard output and standard error, for lines that must be seen at
/// once (print() buffers standard output when it is a pipe). A write that fails has
/// nowhere to be reported, so it is dropped.
enum Output {
    static func standardOutput(_ text: String) {
        try? Syscalls.writeAll(1, Array(text.utf8))
    }

    static func standardError(_ text: String) {
        try? Syscalls.writeAll(2, Array(text.utf8))
    }
}
