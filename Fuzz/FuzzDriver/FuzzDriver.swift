// The main of every fuzz target. Built by scripts/fuzz (-sanitize=fuzzer,address -D FUZZING)
// it hands the inputs libFuzzer makes to the target; in a normal build the same program
// runs the target once on each file named on the command line (a crash input, a corpus
// directory), so a finding can be replayed and debugged without the fuzzing build.
//
// SwiftPM gives every executable a main of its own (it links with main=<target>_main),
// so the fuzzing build cannot use libFuzzer's main: it calls LLVMFuzzerRunDriver instead.
#if FUZZING
import CLibFuzzer
#endif
import Foundation

public enum FuzzDriver {
    /// The target's body; set once, before the first input. libFuzzer calls back on the
    /// thread that called it, the main one.
    nonisolated(unsafe) private static var body: @MainActor (UnsafeRawBufferPointer) -> Void = { _ in }

    /// Runs `body` on every input and exits: libFuzzer's status when fuzzing, else 0
    /// (2 when no input was named).
    @MainActor
    public static func run(_ body: @escaping @MainActor (UnsafeRawBufferPointer) -> Void) -> Never {
        self.body = body
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            MainActor.assumeIsolated { FuzzDriver.body(UnsafeRawBufferPointer(start: data, count: size)) }
            return 0
        })
        #else
        exit(replay(Array(CommandLine.arguments.dropFirst())))
        #endif
    }

    /// Runs the body on each file, and on each file of each directory, in name order.
    @MainActor
    static func replay(_ paths: [String]) -> Int32 {
        guard !paths.isEmpty else {
            let name = CommandLine.arguments.first.map { ($0 as NSString).lastPathComponent } ?? "fuzz target"
            FileHandle.standardError.write(Data("usage: \(name) FILE|DIR... (runs the fuzz target once on each input; scripts/fuzz builds the fuzzing version)\n".utf8))
            return 2
        }
        var count = 0
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(path): no such file\n".utf8))
                return 1
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { body($0) }
                count += 1
            }
        }
        print("ran \(count) inputs")
        return 0
    }
}
