import XCTest
@testable import LuaHost

/// Collects log lines of a state, for assertions.
final class LogRecorder {
    private(set) var lines: [(level: LuaLogLevel, message: String)] = []

    var sink: LuaLogSink {
        { level, message in self.lines.append((level, message)) }
    }

    func messages(at level: LuaLogLevel) -> [String] {
        lines.filter { $0.level == level }.map(\.message)
    }
}

extension LuaState {
    /// Runs a chunk expected to fail, and returns its error.
    func loadError(_ chunk: String, name: String = "test",
                   file: StaticString = #filePath, line: UInt = #line) -> LuaError? {
        do {
            try load(chunk: chunk, name: name)
            XCTFail("chunk was expected to fail", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Whether a Lua expression is true in this state.
    func isTrue(_ expression: String) throws -> Bool {
        let function = try evaluate("return function() return (\(expression)) == true end")
        defer { release(function) }
        return try call(function)
    }

    /// A Lua function value kept in the registry, from its source.
    func function(_ source: String) throws -> LuaReference {
        try evaluate("return " + source)
    }
}
