import CKernel
import Glibc
import SystemPackage

/// The process's user and group, and giving up root for good.
extension Syscalls {
    public static var realUserID: uid_t { getuid() }
    public static var effectiveUserID: uid_t { geteuid() }
    public static var realGroupID: gid_t { getgid() }
    public static var effectiveGroupID: gid_t { getegid() }

    /// Becomes `uid` and `gid` for good: setgroups (to the one group), setgid, setuid, then
    /// no new privileges (no exec regains one: setuid programs, file capabilities).
    /// Needs root; the first call that fails is the error, and the process may then be
    /// half-way (groups dropped, user not): stop rather than go on.
    public static func dropPrivileges(uid: uid_t, gid: gid_t) throws(SystemError) {
        var groups = [gid]
        _ = try check("setgroups") { setgroups(1, &groups) }
        _ = try check("setgid \(gid)") { setgid(gid) }
        _ = try check("setuid \(uid)") { setuid(uid) }
        let result = tapir_set_no_new_privileges()
        guard result == 0 else {
            throw SystemError(operation: "prctl(PR_SET_NO_NEW_PRIVS)", errno: Errno(rawValue: -result))
        }
    }
}
