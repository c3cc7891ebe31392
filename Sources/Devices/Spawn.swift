import CTunTap
import Glibc

/// The one place a child process is started: posix_spawn with stdin from /dev/null (or a given descriptor),
/// stdout and stderr onto the given descriptors, an empty signal mask and every signal at
/// its default (the host blocks SIGINT, SIGTERM and SIGHUP and ignores SIGPIPE; a child
/// must inherit none of that), optionally in a process group of its own (so a Ctrl-C at
/// the terminal reaches the console, not the command it started).
public enum Spawn {
    /// `stdin`, when given, becomes the child's standard input (else /dev/null).
    public static func start(path: String, arguments: [String], stdin: CInt? = nil, stdout: CInt, stderr: CInt,
                      ownProcessGroup: Bool = false) throws(DeviceError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin {
            posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw .spawnFailed(program: path, errno: result) }
        return pid
    }

    /// A pipe whose ends close on exec: (read, write).
    public static func pipe() throws(DeviceError) -> (read: CInt, write: CInt) {
        var fds: [CInt] = [-1, -1]
        let result = tapir_pipe_cloexec(&fds)
        guard result == 0 else { throw .system(operation: "pipe2", errno: -result) }
        return (fds[0], fds[1])
    }
}
