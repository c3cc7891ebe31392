import Glibc

/// Standard output as a capture stream (`--record -`): the capture must be all that goes
/// there, so `reserveStandardOutput()` keeps a private descriptor to it for the writers
/// and points descriptor 1 at standard error. From then on whatever else writes to
/// standard output (a banner, a script's `print`, a child process) lands on standard
/// error, and `tapir run x.lua --record - | tcpdump -r -` reads a clean capture.
public enum CaptureOutput {
    nonisolated(unsafe) private static var reserved: CInt = -1

    /// Where a writer given the path "-" writes: the reserved descriptor, or 1 when
    /// standard output was not reserved.
    public static var descriptor: CInt { reserved >= 0 ? reserved : STDOUT_FILENO }

    /// Moves everything but the capture off standard output. Call once, before anything
    /// is printed; later calls do nothing.
    public static func reserveStandardOutput() {
        guard reserved < 0 else { return }
        fflush(nil)  // every stream: what is buffered for standard output goes there first
        let kept = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)
        guard kept >= 0 else { return }
        reserved = kept
        dup2(STDERR_FILENO, STDOUT_FILENO)
    }
}
