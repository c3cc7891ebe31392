import Glibc
import Kernel
import SystemPackage

/// What happened to a watched file, reported once the directory has been quiet for the
/// settle delay.
public enum FileChange: Sendable, Equatable {
    /// A complete new version is there: written and closed, or renamed onto its name.
    case changed
    /// The file is no longer there under its name (deleted or renamed away).
    case gone
}

/// Names one `watchFile`, for `unwatchFile`.
public struct FileWatchID: Hashable, Sendable {
    let value: UInt64
}

/// File watches through one inotify fd. A file is watched through its directory
/// (IN_CLOSE_WRITE, IN_MOVED_TO and IN_ATTRIB mean "changed", IN_DELETE and IN_MOVED_FROM "gone"),
/// so editors that save by writing a temporary file and renaming it over the target are
/// seen, and a file being written is reported only once it is closed (IN_MODIFY is not
/// used). Events for a file restart its settle timer; when it fires, the last kind of
/// event is reported: a save that removes and re-creates a file is one `.changed`.
/// Files in one directory share its inotify watch.
final class FileWatcher {
    private struct Watch {
        var directory: Int32  // inotify watch descriptor
        var name: String
        var path: String
        var settle: Duration
        var callback: (FileChange) -> Void
        var pending: FileChange?
        var settleTimer: TimerID?
    }

    private struct Directory {
        var path: String
        var watches: Set<UInt64>
    }

    private static let events = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB
                                       | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

    private unowned let loop: EventLoop
    let fd: Int32  // internal for tests (fdinfo lists its watches)
    private var directories: [Int32: Directory] = [:]
    private var watches: [UInt64: Watch] = [:]
    private var nextWatch: UInt64 = 0
    private let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 8)

    init(loop: EventLoop) throws {
        self.loop = loop
        fd = try Syscalls.inotifyCreate()
        do {
            try loop.registerOwned(fd) { [unowned self] _ in self.readEvents() }
        } catch {
            Syscalls.close(fd)
            buffer.deallocate()
            throw error
        }
    }

    deinit {
        buffer.deallocate()
    }

    func watch(_ path: FilePath, settle: Duration, _ callback: @escaping (FileChange) -> Void) throws
        -> FileWatchID
    {
        guard let last = path.lastComponent, last.kind == .regular else {
            throw ReactorError.cannotWatch(path: path.string, errno: .invalidArgument)
        }
        var directoryPath = path.removingLastComponent()
        if directoryPath.isEmpty { directoryPath = "." }
        let directory: Int32
        do {
            directory = try Syscalls.inotifyAddWatch(fd, directory: directoryPath.string, mask: Self.events)
        } catch {
            throw ReactorError.cannotWatch(path: directoryPath.string, errno: error.errno)
        }
        let id = nextWatch
        nextWatch += 1
        directories[directory, default: Directory(path: directoryPath.string, watches: [])]
            .watches.insert(id)
        watches[id] = Watch(directory: directory, name: last.string, path: path.string,
                            settle: max(settle, .zero), callback: callback)
        return FileWatchID(value: id)
    }

    func unwatch(_ id: FileWatchID) {
        guard let watch = watches.removeValue(forKey: id.value) else { return }
        if let timer = watch.settleTimer { loop.cancel(timer) }
        directories[watch.directory]?.watches.remove(id.value)
        if directories[watch.directory]?.watches.isEmpty == true {
            directories[watch.directory] = nil
            Syscalls.inotifyRemoveWatch(fd, watch.directory)
        }
    }

    /// Closes the inotify fd (and with it every watch). Called by the loop's `close()`,
    /// which drops the registration and the settle timers itself.
    func closeDescriptor() {
        Syscalls.close(fd)
    }

    // MARK: events

    private func readEvents() {
        // struct inotify_event: int wd; uint32 mask, cookie, len; char name[len] (NUL-padded).
        let headerSize = 16
        while let count = try? Syscalls.readNonBlocking(fd, into: buffer), count > 0 {
            var offset = 0
            while offset + headerSize <= count {
                let directory = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let nameLength = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameStart = offset + headerSize
                guard nameStart + nameLength <= count else { break }
                let nameBytes = UnsafeRawBufferPointer(rebasing: buffer[nameStart..<nameStart + nameLength])
                let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
                offset = nameStart + nameLength
                handle(directory: directory, mask: mask, name: name)
            }
        }
    }

    private func handle(directory: Int32, mask: UInt32, name: String) {
        if mask & UInt32(IN_Q_OVERFLOW) != 0 {
            // Events were lost: say where every watched file stands now.
            for (id, watch) in watches {
                note(Syscalls.fileExists(watch.path) ? .changed : .gone, for: id)
            }
            return
        }
        guard let watched = directories[directory] else { return }
        let change: FileChange
        if mask & UInt32(IN_IGNORED) != 0 {
            // The kernel ended the watch (its directory was removed): forget it, so a
            // later watchFile there starts a new one.
            directories[directory] = nil
            return
        } else if mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF) != 0 {
            for id in watched.watches { note(.gone, for: id) }
            return
        } else if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0 {
            change = .changed
        } else if mask & UInt32(IN_DELETE | IN_MOVED_FROM) != 0 {
            change = .gone
        } else if mask & UInt32(IN_ATTRIB) != 0 {
            // chmod, chown, touch: a file made readable again (or unreadable) is worth
            // reporting as changed; the unlink of a file still linked elsewhere is not.
            guard let path = directories[directory].map({ $0.path + "/" + name }), Syscalls.fileExists(path) else { return }
            change = .changed
        } else {
            return
        }
        for id in watched.watches where watches[id]?.name == name {
            note(change, for: id)
        }
    }

    /// Records `change` and (re)starts the watch's settle timer.
    private func note(_ change: FileChange, for id: UInt64) {
        guard var watch = watches[id] else { return }
        if let timer = watch.settleTimer { loop.cancel(timer) }
        watch.pending = change
        watch.settleTimer = loop.schedule(after: watch.settle) { [unowned self] in
            self.settled(id)
        }
        watches[id] = watch
    }

    private func settled(_ id: UInt64) {
        guard var watch = watches[id], let change = watch.pending else { return }
        watch.pending = nil
        watch.settleTimer = nil
        watches[id] = watch
        watch.callback(change)
    }
}

extension EventLoop {
    /// Calls `callback` on the loop thread when the file at `path` has been saved
    /// (`.changed`) or removed (`.gone`), once per burst of activity: the report comes
    /// `settle` after the last event for the file. The file need not exist yet; its
    /// directory must. Watching a path does not follow symlinks. When the directory
    /// itself is removed or renamed, its files are reported `.gone` and their watches
    /// end: watch again once it is back. Throws `ReactorError.cannotWatch`.
    @discardableResult
    public func watchFile(_ path: FilePath, settle: Duration = .milliseconds(50),
                          _ callback: @escaping (FileChange) -> Void) throws -> FileWatchID {
        assertOnLoopThread()
        let watcher = try fileWatcher ?? FileWatcher(loop: self)
        fileWatcher = watcher
        return try watcher.watch(path, settle: settle, callback)
    }

    /// Stops a watch; its pending report, if any, is dropped.
    public func unwatchFile(_ watch: FileWatchID) {
        assertOnLoopThread()
        fileWatcher?.unwatch(watch)
    }
}
