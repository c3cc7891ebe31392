import CLua
import Reactor

/// The tasks of one script: coroutines the host runs so a script can wait (CLuaTasks.h).
/// A new or woken task goes on the ready list, which runs on the next turn of the loop
/// (after the handler, timer or task that readied it); a waiting task is resumed when what
/// it waits for happens, or timed out by a timer. Each resume is a host call of its own,
/// with its own instruction budget; an error ends that task only, logged like a handler's.
/// Loop thread only.
final class Tasks {
    /// What a waiting task waits for.
    struct Wait {
        var kind: clua_wait_kind
        var object: Int64
        var timeout: TimerID?
    }

    struct Counters: Equatable {
        var finished = 0
        var failed = 0
    }

    unowned let script: Script
    private var ready: [Int32] = []
    private var drainTimer: TimerID?
    private(set) var waits: [Int32: Wait] = [:]
    private(set) var counters = Counters()
    private var errorLog: ErrorLogLimiter
    /// False once the script stopped or was replaced: nothing runs any more.
    private(set) var running = true

    init(script: Script, errorLogInterval: Duration) {
        self.script = script
        errorLog = ErrorLogLimiter(interval: errorLogInterval)
    }

    /// Tasks alive in the state (running, ready or waiting).
    var alive: Int { Int(clua_task_count(script.state.host)) }

    /// While a replaced version finishes its connections: the only tasks that may run.
    private var allowed: Set<Int32>?

    /// Only these tasks go on (a replaced version finishing its connections); the others'
    /// waits end and they never run again.
    func keepOnly(_ tasks: Set<Int32>) {
        allowed = tasks
        for (task, wait) in waits where !tasks.contains(task) {
            if let timeout = wait.timeout { script.host.timers.cancel(timeout) }
            waits[task] = nil
        }
        ready.removeAll { !tasks.contains($0) }
    }

    /// The task may run (a new one, or woken from its wait).
    func makeReady(_ task: Int32) throws(HostError) {
        guard running else { throw HostError("the script is stopping: no task can run") }
        if let allowed, !allowed.contains(task) { throw HostError("the script was replaced: only its connections finish") }
        if let wait = waits.removeValue(forKey: task), let timeout = wait.timeout {
            script.host.timers.cancel(timeout)
        }
        ready.append(task)
        scheduleDrain()
    }

    /// The running task waits for `kind` on `object`, at most `timeoutMilliseconds` (< 0: no limit).
    func wait(_ task: Int32, kind: clua_wait_kind, object: Int64, timeoutMilliseconds: Int64) throws(HostError) {
        guard running else { throw HostError("the script is stopping: no task can wait") }
        if let allowed, !allowed.contains(task) { throw HostError("the script was replaced: only its connections finish") }
        var wait = Wait(kind: kind, object: object, timeout: nil)
        if timeoutMilliseconds >= 0 {
            wait.timeout = script.host.timers.schedule(after: Tasks.delay(milliseconds: timeoutMilliseconds),
                                                       repeating: nil) {
                [weak self] in self?.timedOut(task)
            }
        }
        waits[task] = wait
    }

    /// Wakes every task waiting for `kind` on `object` (a connection became readable, ...).
    func wake(kind: clua_wait_kind, object: Int64) {
        for (task, wait) in waits where wait.kind == kind && wait.object == object {
            try? makeReady(task)
        }
    }

    private func timedOut(_ task: Int32) {
        guard waits.removeValue(forKey: task) != nil else { return }
        resume(task, timedOut: true)
    }

    /// Arms the next turn's run if tasks are waiting on the ready list (settle left them).
    func scheduleIfReady() {
        if !ready.isEmpty { scheduleDrain() }
    }

    private func scheduleDrain() {
        guard drainTimer == nil else { return }
        if script.host.tcp.settling {
            script.host.tcp.readiedWhileSettling(script)  // run in this turn, no timer
            return
        }
        drainTimer = script.host.timers.schedule(after: Tasks.delay(milliseconds: 0), repeating: nil) {
            [weak self] in
            self?.drainTimer = nil
            self?.runReady()
        }
    }

    /// A delay that is never 0: what is due now runs before anything it schedules, so tasks
    /// that wake each other (or sleep 0) take turns with the loop instead of holding it.
    static func delay(milliseconds: Int64) -> Duration {
        milliseconds > 0 ? .milliseconds(milliseconds) : .nanoseconds(1)
    }

    /// Runs the tasks that are ready now; those they ready run on the next call (the next
    /// turn of the loop). Returns whether any ran. The host calls it itself at the end of a
    /// read burst, so a task woken by a segment answers in the same turn.
    @discardableResult
    func runReady() -> Bool {
        if let drainTimer {
            script.host.timers.cancel(drainTimer)
            self.drainTimer = nil
        }
        guard !ready.isEmpty else { return false }
        let batch = ready
        ready.removeAll(keepingCapacity: true)
        for task in batch where running {
            resume(task, timedOut: false)
        }
        return true
    }

    private func resume(_ task: Int32, timedOut: Bool) {
        guard running else { return }
        let state = script.state
        var result = clua_result()
        let status = clua_task_resume(state.host, task, timedOut ? 1 : 0, &result)
        defer { clua_result_release(state.host, &result) }
        switch status {
        case LUA_YIELD:
            return
        case LUA_OK:
            counters.finished += 1
        default:
            counters.failed += 1
            let error = LuaError(result: result, memoryCap: state.memoryCap)
            if errorLog.admit(at: ContinuousClock.now).log {
                script.host.logger.error("\(script.name): task failed: \(error)")
            }
        }
        waits[task] = nil
        script.host.tcp.taskEnded(task, of: script, failed: status != LUA_OK)
    }

    /// Ends every wait: the script stops or is replaced (its state, and with it every task,
    /// goes away).
    func stop() {
        running = false
        for wait in waits.values {
            if let timeout = wait.timeout { script.host.timers.cancel(timeout) }
        }
        waits.removeAll()
        ready.removeAll()
    }
}

// The C callbacks, with the Script as context.

extension Script {
    func installTasks() throws(LuaError) {
        var callbacks = clua_task_callbacks()
        callbacks.context = Unmanaged.passUnretained(self).toOpaque()
        callbacks.ready = taskReady
        callbacks.wait = taskWait
        try state.installTasks(callbacks)
    }
}

extension LuaState {
    func installTasks(_ callbacks: clua_task_callbacks) throws(LuaError) {
        var callbacks = callbacks
        try install { clua_install_tasks($0, &callbacks, &$1) }
    }
}

private func taskReady(context: UnsafeMutableRawPointer?, task: Int32, message: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let context else { return -1 }
    let script = Unmanaged<Script>.fromOpaque(context).takeUnretainedValue()
    do {
        try script.tasks.makeReady(task)
        return 0
    } catch {
        writeError(error.description, into: message)
        return -1
    }
}

private func taskWait(context: UnsafeMutableRawPointer?, task: Int32, kind: Int32, object: Int64, timeout: Int64,
                      message: UnsafeMutablePointer<CChar>?) -> Int32 {
    guard let context else { return -1 }
    let script = Unmanaged<Script>.fromOpaque(context).takeUnretainedValue()
    do {
        try script.tasks.wait(task, kind: clua_wait_kind(rawValue: UInt32(kind)), object: object,
                              timeoutMilliseconds: timeout)
        return 0
    } catch {
        writeError(error.description, into: message)
        return -1
    }
}
