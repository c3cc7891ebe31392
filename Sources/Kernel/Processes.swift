import CKernel
import Glibc
import SystemPackage

/// Starting, signalling and reaping child processes: every process Tapir starts
/// (`ChildProcess`, the console's `peer()`, the sandbox keeper) goes through here.
extension Syscalls {
    /// Starts `path` with posix_spawn: stdin from /dev/null (or `stdin`), stdout and
    /// stderr onto the given descriptors, an empty signal mask and every signal at its
    /// default (the host blocks SIGINT, SIGTERM and SIGHUP and ignores SIGPIPE; a child
    /// must inherit none of that), optionally in a process group of its own (so a Ctrl-C
    /// at the terminal reaches the console, not the command it started).
    public static func spawn(path: String, arguments: [String], stdin: CInt? = nil, stdout: CInt, stderr: CInt,
                             ownProcessGroup: Bool = false) throws(SystemError) -> pid_t {
        let operation = "posix_spawn \(path)"
        var actions = posix_spawn_file_actions_t()
        try checkReturned(operation, posix_spawn_file_actions_init(&actions))
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            try checkReturned(operation, posix_spawn_file_actions_adddup2(&actions, stdin, 0))
        } else {
            try checkReturned(operation, posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0))
        }
        try checkReturned(operation, posix_spawn_file_actions_adddup2(&actions, stdout, 1))
        try checkReturned(operation, posix_spawn_file_actions_adddup2(&actions, stderr, 2))

        var attributes = posix_spawnattr_t()
        try checkReturned(operation, posix_spawnattr_init(&attributes))
        defer { posix_spawnattr_destroy(&attributes) }
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        try spawnResetSignals(&attributes, mask: noSignals, defaults: allSignals)
        if ownProcessGroup {
            try checkReturned(operation, posix_spawnattr_setpgroup(&attributes, 0))
            var flags: Int16 = 0
            try checkReturned(operation, posix_spawnattr_getflags(&attributes, &flags))
            try checkReturned(operation, posix_spawnattr_setflags(&attributes, flags | Int16(POSIX_SPAWN_SETPGROUP)))
        }

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        try checkReturned(operation, posix_spawn(&pid, path, &actions, &attributes, argv, environ))
        return pid
    }

    /// Sets a spawn's signal mask and the signals reset to default, adding
    /// POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF to its flags.
    public static func spawnResetSignals(
        _ attributes: inout posix_spawnattr_t, mask: sigset_t, defaults: sigset_t
    ) throws(SystemError) {
        var mask = mask
        var defaults = defaults
        var flags: Int16 = 0
        try checkReturned("posix_spawnattr_getflags", posix_spawnattr_getflags(&attributes, &flags))
        flags |= Int16(POSIX_SPAWN_SETSIGMASK) | Int16(POSIX_SPAWN_SETSIGDEF)
        try checkReturned("posix_spawnattr_setflags", posix_spawnattr_setflags(&attributes, flags))
        try checkReturned("posix_spawnattr_setsigmask", posix_spawnattr_setsigmask(&attributes, &mask))
        try checkReturned("posix_spawnattr_setsigdefault", posix_spawnattr_setsigdefault(&attributes, &defaults))
    }

    /// Reaps the child `pid` if it has exited (waiting for it when `blocking`): its exit
    /// status, or 128 + the signal number when a signal killed it; nil while it runs.
    /// A child that is not ours to wait for (ECHILD: reaped already, or never ours) reads -1.
    public static func reap(_ pid: pid_t, blocking: Bool) -> Int32? {
        var status: CInt = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { return tapir_wait_status_code(status) }
            if result == 0 { return nil }
            let code = errno
            if code == EINTR { continue }
            // ECHILD, or EINVAL for options the kernel does not know: neither can be waited for.
            Errno.preconditionAcceptable(Errno(rawValue: code), "waitpid \(pid)")
            return -1
        }
    }

    /// Sends `signal` to `pid`; false when there is no such process (ESRCH) or it is not
    /// ours to signal (EPERM).
    @discardableResult
    public static func kill(_ pid: pid_t, _ signal: CInt) -> Bool {
        Glibc.kill(pid, signal) == 0
    }

    /// Whether a process `pid` exists (ours to signal or not).
    public static func isAlive(_ pid: pid_t) -> Bool {
        Glibc.kill(pid, 0) == 0 || errno == EPERM
    }

    public static var processID: pid_t { getpid() }
    public static var parentProcessID: pid_t { getppid() }
}
