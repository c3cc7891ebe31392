import ArgumentParser
import Capture
import LuaHost

extension RecordFormat: ExpressibleByArgument {}

/// `--record` and `--record-format`, shared by `run` and `console`.
struct RecordOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Record every frame in and out to this file ('-': standard output, flushed per packet, and then nothing else goes there: banners and print go to standard error). pcapng keeps every device in one file (but a tun beside taps: FILE-DEVICE.pcapng) with each packet's direction; pcap writes each device after the first to FILE-DEVICE.pcap.", valueName: "file"))
    var record: String?

    @Option(name: .long, help: "The recording's format: pcapng or pcap.")
    var recordFormat: RecordFormat = .pcapng

    /// Call first thing in run(): with `--record -`, standard output is the capture's alone
    /// from here on.
    func claimStandardOutput() {
        if record == "-" { CaptureOutput.reserveStandardOutput() }
    }

    func apply(to host: TapirHost) {
        host.recordFormat = recordFormat
        host.recordPath = record
    }
}
