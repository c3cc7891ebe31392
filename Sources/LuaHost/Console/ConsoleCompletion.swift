import Glibc

/// Tab at the prompt, the part the host answers itself: file names inside a string
/// (`dofile("lua/ex` completes to `lua/examples/`). Names (globals, table fields, a
/// packet's layers and fields, builders' fields) are console.lua's `complete`.
enum ConsoleCompletion {
    /// The text of the string the cursor is in, when it is in one (an opening quote
    /// not closed yet).
    static func openString(in line: String) -> String? {
        var quote: Character?
        var escaped = false
        var text = ""
        for character in line {
            if let open = quote {
                if escaped {
                    escaped = false
                    text.append(character)
                } else if character == "\\" {
                    escaped = true
                } else if character == open {
                    quote = nil
                } else {
                    text.append(character)
                }
            } else if character == "\"" || character == "'" {
                quote = character
                text = ""
            } else if character == "-", line.contains("--") {
                // a comment may hold anything; completion there is not worth guessing
                continue
            }
        }
        return quote == nil ? nil : text
    }

    /// The files and directories (with a `/`) whose names start as `partial`'s last part.
    static func fileNames(completing partial: String) -> LineCompletion {
        let slash = partial.lastIndex(of: "/")
        let directory = slash.map { String(partial[...$0]) } ?? ""
        let stem = slash.map { String(partial[partial.index(after: $0)...]) } ?? partial
        guard let handle = opendir(directory.isEmpty ? "." : directory) else { return .none }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            guard name != ".", name != "..", name.hasPrefix(stem), !name.hasPrefix(".") || stem.hasPrefix(".") else {
                continue
            }
            var status = stat()
            let isDirectory = stat(directory + name, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
            names.append(isDirectory ? name + "/" : name)
        }
        return LineCompletion(stemLength: stem.utf8.count, candidates: names.sorted())
    }
}
