// Scripted exchanges in packetdrill's syntax, one event a line:
//
//   config KEY VALUE                     engine settings, before the first timed line
//   TIME < FLAGS START:END(LEN) [ack N] [win N] [<options>] [from PORT]    a segment in
//   TIME > FLAGS START:END(LEN) [ack N] [win N|*] [<options>] [to PORT]    a segment expected out
//   TIME COMMAND ARGS                    an application call or a check (see `Command`)
//
// TIME is seconds, absolute (`0.100`) or after the previous line (`+0.1`). Sequence
// numbers are relative to each side's initial sequence number, as packetdrill's are: the
// script's side starts at `config remote_isn` (default near 2^32, so every script wraps);
// the engine's is learned from its first SYN or SYN-ACK. Timestamp values the engine
// sends are relative to its per-connection offset, learned from its first one. Data
// bytes follow a pattern by stream offset, so reads and sent payloads are checked too.
import Packets

struct ScriptError: Error, CustomStringConvertible {
    let line: Int
    let message: String
    var description: String { "line \(line): \(message)" }
}

enum ScriptOption: Equatable, CustomStringConvertible {
    case mss(Int)
    case sackOK
    case timestamp(val: Int64, ecr: Int64)
    case nop
    case eol
    case wscale(Int)
    case sack([(Int64, Int64)])

    static func == (a: ScriptOption, b: ScriptOption) -> Bool { a.description == b.description }

    /// `*` in a script: any value (a timestamp value), or (an inbound echo) the last
    /// timestamp value the engine sent to that peer.
    static let wildcard = Int64.min
    static func text(_ value: Int64) -> String { value == wildcard ? "*" : String(value) }

    var description: String {
        switch self {
        case let .mss(value): "mss \(value)"
        case .sackOK: "sackOK"
        case let .timestamp(val, ecr): "TS val \(Self.text(val)) ecr \(Self.text(ecr))"
        case .nop: "nop"
        case .eol: "eol"
        case let .wscale(value): "wscale \(value)"
        case let .sack(blocks): "sack " + blocks.map { "\($0.0):\($0.1)" }.joined(separator: " ")
        }
    }
}

/// A segment as a script line writes it (relative numbers).
struct ScriptSegment: Equatable, CustomStringConvertible {
    var flags: UInt16
    var start: Int64
    var end: Int64
    var ack: Int64?
    var window: Int?  // nil: any (`win *`)
    var options: [ScriptOption]
    var port: UInt16?

    var description: String {
        var text = TCPFlags.text(flags & ~TCPFlags.ack)
        if text == "none" { text = "" }
        if flags & TCPFlags.ack != 0 { text += "." }
        text += " \(start):\(end)(\(end - start))"
        if let ack { text += " ack \(ack)" }
        text += " win " + (window.map(String.init) ?? "*")
        if !options.isEmpty { text += " <" + options.map(\.description).joined(separator: ",") + ">" }
        return text
    }
}

enum Command {
    /// `= *` after a count: any count is right.
    static let anyCount = -1
    case listen(backlog: Int?, limit: Int?)
    case unlisten
    case connect
    case accept(expectNone: Bool)
    /// `write N`, `write N = M` (M taken), `write N = *` (whatever is taken).
    case write(Int, expect: Int?)
    case read(Int, expect: Int?)
    case eof(Bool)
    case shutdown
    case close
    case abort
    case nagle(Bool)
    case state(String)
    case events(String)
    case counter(String, Int)
    case socketCounter(String, Int)
    case use(UInt16)
    case tick
    /// A new connection on the current port follows: forget its numbers.
    case forget
}

enum ScriptEvent {
    case inbound(ScriptSegment)
    case outbound(ScriptSegment)
    case command(Command)
}

struct ScriptLine {
    var number: Int
    var time: Int64  // microseconds
    var event: ScriptEvent
    var text: String
}

struct Script {
    var config: [String: String] = [:]
    var lines: [ScriptLine] = []

    init(_ text: String) throws {
        var time: Int64 = 0
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            var line = String(raw)
            if let hash = line.firstIndex(of: "#") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: " \t")
            if line.isEmpty { continue }
            var words = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if words[0] == "config" {
                guard words.count == 3 else { throw ScriptError(line: number, message: "config KEY VALUE") }
                config[words[1]] = words[2]
                continue
            }
            let timeWord = words.removeFirst()
            guard let seconds = Double(timeWord.hasPrefix("+") ? String(timeWord.dropFirst()) : timeWord) else {
                throw ScriptError(line: number, message: "no time: \(timeWord)")
            }
            let micros = Int64((seconds * 1_000_000).rounded())
            time = timeWord.hasPrefix("+") ? time + micros : micros
            guard !words.isEmpty else { throw ScriptError(line: number, message: "nothing after the time") }
            let event: ScriptEvent
            do {
                switch words[0] {
                case "<": event = .inbound(try Self.segment(Array(words.dropFirst()), line: number))
                case ">": event = .outbound(try Self.segment(Array(words.dropFirst()), line: number))
                default: event = .command(try Self.command(words, line: number))
                }
            }
            lines.append(ScriptLine(number: number, time: time, event: event, text: line))
        }
    }

    static func command(_ words: [String], line: Int) throws -> Command {
        func int(_ index: Int) throws -> Int {
            guard index < words.count, let value = Int(words[index]) else {
                throw ScriptError(line: line, message: "\(words[0]): number expected")
            }
            return value
        }
        func expected() throws -> Int? {
            guard words.count > 2 else { return nil }
            guard words.count == 4, words[2] == "=" else { throw ScriptError(line: line, message: "\(words[0]) N [= M]") }
            return words[3] == "*" ? Command.anyCount : try int(3)
        }
        switch words[0] {
        case "listen":
            var backlog: Int?, limit: Int?
            var index = 1
            while index + 1 < words.count {
                if words[index] == "backlog" { backlog = Int(words[index + 1]) }
                if words[index] == "limit" { limit = Int(words[index + 1]) }
                index += 2
            }
            return .listen(backlog: backlog, limit: limit)
        case "unlisten": return .unlisten
        case "connect": return .connect
        case "accept": return .accept(expectNone: words.count > 1 && words[1] == "none")
        case "write": return .write(try int(1), expect: try expected())
        case "read": return .read(try int(1), expect: try expected())
        case "eof": return .eof(words.count < 2 || words[1] != "no")
        case "shutdown": return .shutdown
        case "close": return .close
        case "abort": return .abort
        case "nagle": return .nagle(words.count > 1 && words[1] == "on")
        case "state": return .state(words.count > 1 ? words[1] : "")
        case "events": return .events(words.count > 1 ? words[1] : "none")
        case "counter": return .counter(words[1], try int(2))
        case "socket-counter": return .socketCounter(words[1], try int(2))
        case "use": return .use(UInt16(try int(1)))
        case "tick": return .tick
        case "forget": return .forget
        default: throw ScriptError(line: line, message: "unknown command \(words[0])")
        }
    }

    static func segment(_ words: [String], line: Int) throws -> ScriptSegment {
        let text = words.joined(separator: " ")
        var rest = Substring(text)
        func word() -> String {
            rest = rest.drop(while: { $0 == " " })
            let w = rest.prefix(while: { $0 != " " })
            rest = rest.dropFirst(w.count)
            return String(w)
        }
        let flagText = word()
        var flags: UInt16 = 0
        for character in flagText {
            switch character {
            case "S": flags |= TCPFlags.syn
            case "F": flags |= TCPFlags.fin
            case "R": flags |= TCPFlags.rst
            case "P": flags |= TCPFlags.psh
            case "U": flags |= TCPFlags.urg
            case "E": flags |= TCPFlags.ece
            case "W": flags |= TCPFlags.cwr
            case ".": flags |= TCPFlags.ack
            default: throw ScriptError(line: line, message: "bad flags \(flagText)")
            }
        }
        let range = word()
        let parts = range.split(whereSeparator: { $0 == ":" || $0 == "(" || $0 == ")" })
        guard parts.count == 3, let start = Int64(parts[0]), let end = Int64(parts[1]), let length = Int64(parts[2]),
              end - start == length else {
            throw ScriptError(line: line, message: "bad START:END(LEN) \(range)")
        }
        var segment = ScriptSegment(flags: flags, start: start, end: end, ack: nil, window: nil, options: [], port: nil)
        while true {
            rest = rest.drop(while: { $0 == " " })
            if rest.isEmpty { break }
            if rest.first == "<" {
                guard let close = rest.firstIndex(of: ">") else { throw ScriptError(line: line, message: "unclosed <") }
                let inside = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                for item in inside.split(separator: ",") {
                    segment.options.append(try option(item.split(separator: " ").map(String.init), line: line))
                }
                continue
            }
            let key = word()
            let value = word()
            switch key {
            case "ack":
                guard let number = Int64(value) else { throw ScriptError(line: line, message: "bad ack \(value)") }
                segment.ack = number
            case "win":
                segment.window = value == "*" ? nil : Int(value)
                if value != "*" && segment.window == nil { throw ScriptError(line: line, message: "bad win \(value)") }
            case "from", "to":
                segment.port = UInt16(value)
            default:
                throw ScriptError(line: line, message: "unknown \(key)")
            }
        }
        return segment
    }

    static func option(_ words: [String], line: Int) throws -> ScriptOption {
        func number(_ index: Int) throws -> Int64 {
            if index < words.count && words[index] == "*" { return ScriptOption.wildcard }
            guard index < words.count, let value = Int64(words[index]) else {
                throw ScriptError(line: line, message: "bad option \(words.joined(separator: " "))")
            }
            return value
        }
        switch words.first ?? "" {
        case "mss": return .mss(Int(try number(1)))
        case "sackOK": return .sackOK
        case "nop": return .nop
        case "eol": return .eol
        case "wscale": return .wscale(Int(try number(1)))
        case "TS":
            guard words.count == 5, words[1] == "val", words[3] == "ecr" else {
                throw ScriptError(line: line, message: "TS val N ecr N")
            }
            return .timestamp(val: try number(2), ecr: try number(4))
        case "sack":
            var blocks: [(Int64, Int64)] = []
            for word in words.dropFirst() {
                let ends = word.split(separator: ":")
                guard ends.count == 2, let left = Int64(ends[0]), let right = Int64(ends[1]) else {
                    throw ScriptError(line: line, message: "bad sack block \(word)")
                }
                blocks.append((left, right))
            }
            return .sack(blocks)
        default:
            throw ScriptError(line: line, message: "unknown option \(words.joined(separator: " "))")
        }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
