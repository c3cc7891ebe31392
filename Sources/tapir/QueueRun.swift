import Devices
import Glibc
import Logging
import LuaHost
import Reactor
import Synchronization

/// `tapir run --queues N` with N > 1. Each queue gets a queue host: a thread of its own
/// with its own event loop, `TapirHost` and Lua state of every script, serving its queue
/// of each device (the kernel spreads flows over the queues). The main thread is the
/// coordinator: it starts the queue threads, takes the signals (they stay blocked in
/// every thread; the coordinator's loop reads them) and passes them on through each
/// queue's notifiers — SIGINT/SIGTERM stop every queue, SIGHUP reloads every queue — and
/// ends the run when a queue ends (its devices gone, or its scripts failed to load).
///
/// The queues share nothing but the stats board (`QueueStatsBoard`, behind a lock) and
/// the logger; each queue's logger says which queue it is ("tapir[2]: ...").
final class QueueRun {
    struct Settings {
        var options: TapirHost.Options
        var plan: LoadPlan
        var recordPath: String?
        var recordFormat: RecordFormat
        var watch: Bool
    }

    static let maximumQueues = 64

    private let settings: Settings
    private let queues: [[any PacketDevice]]
    private let logger: Logger
    private let board: QueueStatsBoard
    private var started: [Int: (stop: EventLoopNotifier, reload: EventLoopNotifier)] = [:]
    private var ended: Set<Int> = []
    private var stopping = false
    private var failure: String?
    /// Queues whose thread started: the run ends when each of them has ended.
    private var launched = 0

    init(settings: Settings, queues: [[any PacketDevice]], logger: Logger) {
        self.settings = settings
        self.queues = queues
        self.logger = logger
        board = QueueStatsBoard(queues: queues.count)
    }

    /// The per-queue recording of `--record FILE`: FILE-queueN.EXT.
    static func recordPath(_ path: String, queue: Int) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        guard let dot = path[slash...].lastIndex(of: "."), dot != slash else { return "\(path)-queue\(queue)" }
        return "\(path[..<dot])-queue\(queue)\(path[dot...])"
    }

    /// Runs every queue until a signal stops them or one of them ends; returns the exit
    /// status (1 with the message said when a queue's scripts failed to load).
    func run() throws -> Int32 {
        let loop = try EventLoop()
        defer { loop.close() }
        let reports = QueueReports()
        reports.notifier = try loop.makeNotifier { [unowned self, unowned loop] in self.read(reports.take(), loop) }
        for signal in [SIGINT, SIGTERM] {
            try loop.onSignal(signal) { [unowned self, unowned loop] in
                logger.info("stopping (signal \(signal))")
                self.stopAll(loop)
            }
        }
        try loop.onSignal(SIGHUP) { [unowned self] in
            logger.info("SIGHUP: reloading every queue")
            for queue in started.values { queue.reload.notify() }
        }
        var threads: [pthread_t] = []
        for index in 1...queues.count {
            let queueHost = QueueHost(index: index, settings: settings, devices: queues[index - 1],
                                      place: QueuePlace(index: index, count: queues.count, board: board),
                                      logger: Logger(label: "tapir[\(index)]"))
            let body = QueueThreadBody {
                let failure = queueHost.run { stop, reload in
                    reports.post(.started(queue: index, stop: stop, reload: reload))
                }
                reports.post(failure.map { .failed(queue: index, message: $0) } ?? .ended(queue: index))
            }
            do {
                threads.append(try body.start())
            } catch {
                // The queues already started are stopped as they report in; the run fails.
                failure = "\(error)"
                stopping = true
                break
            }
        }
        launched = threads.count
        if failure == nil { logger.info("serving \(queues.count) queues, one thread each") }
        if launched > 0 { try loop.run() }
        for thread in threads { pthread_join(thread, nil) }
        if let failure {
            Output.standardError("tapir: \(failure)\n")
            return 1
        }
        return 0
    }

    /// On the coordinator's thread: what the queues said since last time.
    private func read(_ batch: [QueueReports.Report], _ loop: EventLoop) {
        for report in batch {
            switch report {
            case .started(let queue, let stop, let reload):
                started[queue] = (stop, reload)
                if stopping { stop.notify() }
            case .failed(let queue, let message):
                if failure == nil { failure = message }
                ended.insert(queue)
                stopAll(loop)
            case .ended(let queue):
                ended.insert(queue)
                if !stopping { logger.warning("queue \(queue) ended: stopping every queue") }
                stopAll(loop)
            }
        }
        if ended.count == launched { loop.stop() }
    }

    private func stopAll(_ loop: EventLoop) {
        stopping = true
        for (queue, notifiers) in started where !ended.contains(queue) { notifiers.stop.notify() }
        if ended.count == launched { loop.stop() }
    }
}

/// What the queues' threads tell the coordinator: posted from any thread, taken on the
/// coordinator's, whose loop `notifier` wakes.
final class QueueReports: @unchecked Sendable {
    enum Report: Sendable {
        case started(queue: Int, stop: EventLoopNotifier, reload: EventLoopNotifier)
        case failed(queue: Int, message: String)
        case ended(queue: Int)
    }

    private let reports = Mutex<[Report]>([])
    /// Set once, before any queue thread starts (hence unchecked: never written after).
    var notifier: EventLoopNotifier?

    func post(_ report: Report) {
        reports.withLock { $0.append(report) }
        notifier?.notify()
    }

    func take() -> [Report] {
        reports.withLock { reports in
            let batch = reports
            reports.removeAll()
            return batch
        }
    }
}

/// One queue's host, on its own thread: its loop and `TapirHost`, its descriptors of
/// the devices, the scripts loaded into it. Made on the coordinator's thread and then
/// used only on the queue's own (hence `@unchecked Sendable`: it is handed over once).
final class QueueHost: @unchecked Sendable {
    let index: Int
    private let settings: QueueRun.Settings
    private let devices: [any PacketDevice]
    private let place: QueuePlace
    private let logger: Logger

    init(index: Int, settings: QueueRun.Settings, devices: [any PacketDevice], place: QueuePlace, logger: Logger) {
        self.index = index
        self.settings = settings
        self.devices = devices
        self.place = place
        self.logger = logger
    }

    /// Serves the queue until told to stop (or its devices are gone); `started` is called
    /// once the scripts are loaded, with the notifiers that stop and reload it. Returns
    /// why it could not start, or nil.
    func run(started: (_ stop: EventLoopNotifier, _ reload: EventLoopNotifier) -> Void) -> String? {
        do {
            let loop = try EventLoop()
            defer { loop.close() }
            let host = TapirHost(options: settings.options, loop: loop, logger: logger)
            host.queuePlace = place
            host.deviceOpener = { request in throw QueueError.openRefused(request.name) }
            if let path = settings.recordPath {
                host.recordFormat = settings.recordFormat
                host.recordPath = QueueRun.recordPath(path, queue: index)
            }
            for device in devices { try host.add(device) }
            if let failure = load(into: host) { return failure }
            let stop = try loop.makeNotifier { [unowned loop] in loop.stop() }
            let reload = try loop.makeNotifier { [unowned host] in host.reloadAll() }
            if settings.watch {
                host.watchScripts()
                host.watchPackHandlers()
            }
            host.onAllDevicesGone = { [unowned loop] in loop.stop() }
            host.publishStats()
            started(stop, reload)
            try loop.run()
            host.stop()
            return nil
        } catch {
            return "queue \(index): \(error)"
        }
    }

    /// Loads the scripts and packs as `tapir run` does with one queue; the first failure,
    /// said as it would be there.
    private func load(into host: TapirHost) -> String? {
        for item in settings.plan.items {
            do throws(LuaError) {
                switch item {
                case .script(let path): try host.load(path: path)
                case .pack(let pack, let config): try host.load(pack: pack, config: config, allowed: settings.plan.allowed)
                }
            } catch {
                guard case .pack = item else { return "\(error)" }
                return error.message
            }
        }
        return nil
    }
}

enum QueueError: Error, CustomStringConvertible {
    case openRefused(String)

    var description: String {
        switch self {
        case .openRefused(let name):
            "tapir.open(\"\(name)\") is not available with --queues: a device opened by one queue's script would "
                + "be served by that queue alone; give it to tapir run with --dev instead"
        }
    }
}

/// A closure run on a thread of its own (pthread), with every signal blocked there as on
/// the thread that starts it (the coordinator's loop reads them).
final class QueueThreadBody: Sendable {
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) {
        self.body = body
    }

    func start() throws -> pthread_t {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let result = pthread_create(&thread, nil, { context in
            let body = Unmanaged<QueueThreadBody>.fromOpaque(context!).takeRetainedValue()
            body.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<QueueThreadBody>.fromOpaque(context).release()
            throw QueueThreadError(errno: result)
        }
        return thread
    }
}

struct QueueThreadError: Error, CustomStringConvertible {
    let errno: Int32
    var description: String { "cannot start a queue's thread: \(String(cString: strerror(errno)))" }
}
