import Glibc

/// docs/lua-api.md as the console's `help` reads it: the rows of its tables, by the name
/// in their first column. The file is read at run time from beside the Lua directory
/// (`lua/../docs` in a checkout, `share/tapir/docs` in an install), the very file
/// APIDocumentationTests checks against the host, so help can never say something the
/// documentation does not.
public struct APIReference {
    public struct Entry: Equatable {
        /// The first column: `tapir.build.ip`, `pkt.tcp.sport`, `sniff`.
        public let name: String
        /// The other columns, joined by two spaces, backticks dropped.
        public let text: String
        /// The `## ` heading the row is under.
        public let section: String
    }

    public let entries: [Entry]

    /// The console section's heading: its rows are what `help()` lists.
    public static let consoleSection = "The console prompt"

    public init(markdown: String) {
        var entries: [Entry] = []
        var section = ""
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                section = String(line.dropFirst(3))
                continue
            }
            guard line.hasPrefix("| `") else { continue }
            var cells = Self.cells(of: line)
            guard !cells.isEmpty else { continue }
            let name = cells.removeFirst().replacingBackticks()
            entries.append(Entry(name: name, text: cells.map { $0.replacingBackticks() }.joined(separator: "  "),
                                 section: section))
        }
        self.entries = entries
    }

    /// Reads the file; nil when it is not there (an install without its docs).
    public init?(path: String) {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        self.init(markdown: String(decoding: bytes, as: UTF8.self))
    }

    /// Where the reference is for a Lua directory: `DIR/../docs/lua-api.md`.
    public static func path(besideLuaDirectory directory: String) -> String {
        var parent = directory
        while parent.count > 1 && parent.hasSuffix("/") { parent.removeLast() }
        if let slash = parent.lastIndex(of: "/") { parent = String(parent[..<slash]) } else { parent = "." }
        return (parent.isEmpty ? "" : parent) + "/docs/lua-api.md"
    }

    /// The rows for `name`: its own row, or else every row under it (`pkt.tcp` gives the
    /// TCP fields, `tapir.build` the builders); empty when nothing matches.
    public func lookup(_ name: String) -> [Entry] {
        let exact = entries.filter { $0.name == name }
        if !exact.isEmpty { return exact }
        return entries.filter { $0.name.hasPrefix(name + ".") || $0.name.hasPrefix(name + ":") }
    }

    /// The text `help` prints for `name`.
    public func helpText(_ name: String) -> String? {
        let found = lookup(name)
        guard !found.isEmpty else { return nil }
        if found.count == 1 { return "\(found[0].name)\n  \(found[0].text)" }
        let width = min(24, found.map(\.name.count).max() ?? 0)
        return found.map { entry in
            entry.name + String(repeating: " ", count: max(1, width - entry.name.count + 2)) + entry.text
        }.joined(separator: "\n")
    }

    /// The cells of a table row, `|` inside backticks kept (`a | b` in a filter example).
    private static func cells(of line: Substring) -> [String] {
        var cells: [String] = []
        var current = ""
        var inCode = false
        for character in line.dropFirst() {
            if character == "`" { inCode.toggle() }
            if character == "|" && !inCode {
                cells.append(current.trimmingSpaces())
                current = ""
            } else {
                current.append(character)
            }
        }
        return cells.filter { !$0.isEmpty }
    }
}

private extension String {
    func replacingBackticks() -> String { String(filter { $0 != "`" }) }

    func trimmingSpaces() -> String {
        var text = Substring(self)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return String(text)
    }
}
