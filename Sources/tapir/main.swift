import Reactor

// Block SIGINT, SIGTERM and SIGHUP before any thread exists, so they reach the event
// loop's signalfd and nothing else; children get the mask reset when they are spawned.
do {
    try SignalMask.blockTerminationSignals()
} catch {
    print("tapir: cannot block signals: \(error)")
}
Tapir.main()
