/// What a setting takes beyond its type, as its manifest entry says:
///
///     port  = {type = "port", default = 53, min = 1, help = "..."},            -- 1..65535
///     ports = {type = "list", of = "port", default = {7}, min = 1, help = "..."},  -- each element
///     mode  = {type = "string", default = "drop", choices = {"drop", "allow"}, help = "..."},
///     extra = {type = "list", of = "ipv4", default = {}, allow_empty = true, help = "..."},
///
/// `min` and `max` bound an integer or a port (each element of a list of them); `choices`
/// lists the values allowed (strings, integers, ports, addresses; each element of a list);
/// a list given empty on the command line (`--set extra=`) is refused unless
/// `allow_empty = true` (a manifest's own default may be empty either way).
public struct PackSettingLimits: Sendable, Equatable {
    public var minimum: Int64?
    public var maximum: Int64?
    /// The values allowed (of the setting's type; a list's: of its element type).
    public var choices: [PackValue]?
    public var allowsEmpty = false

    static let fields = ["min", "max", "choices", "allow_empty"]

    public init(minimum: Int64? = nil, maximum: Int64? = nil, choices: [PackValue]? = nil, allowsEmpty: Bool = false) {
        self.minimum = minimum
        self.maximum = maximum
        self.choices = choices
        self.allowsEmpty = allowsEmpty
    }

    /// The bounds a value of `element` must be within: the manifest's, and a port's own.
    func range(of element: PackValueType) -> (lower: Int64?, upper: Int64?) {
        element == .port ? (minimum ?? 0, maximum ?? 65535) : (minimum, maximum)
    }

    /// "1..65535", "at least 1", "at most 9"; nil when unbounded.
    func rangeText(of element: PackValueType) -> String? {
        switch range(of: element) {
        case let (lower?, upper?): "\(lower)..\(upper)"
        case let (lower?, nil): "at least \(lower)"
        case let (nil, upper?): "at most \(upper)"
        case (nil, nil): nil
        }
    }

    /// What is wrong with one element (or a scalar's value), or nil.
    func problem(with value: PackValue, of element: PackValueType) -> String? {
        if case .integer(let number) = value {
            let (lower, upper) = range(of: element)
            if (lower.map { number < $0 } ?? false) || (upper.map { number > $0 } ?? false) {
                if let lower, let upper { return "\(number) is out of range \(lower)..\(upper)" }
                if let lower { return "\(number) is below the minimum, \(lower)" }
                return "\(number) is above the maximum, \(upper ?? 0)"
            }
        }
        if let choices, !choices.contains(value) {
            return "'\(value)' is not one of the choices (\(choices.map(\.description).joined(separator: ", ")))"
        }
        return nil
    }

    /// What is wrong with a whole value (a list: each wrong element, by position), or nil.
    func problems(with value: PackValue, of type: PackValueType) -> String? {
        guard case .list(let element) = type, case .list(let items) = value else {
            return problem(with: value, of: type)
        }
        let problems = items.enumerated().compactMap { index, item in
            problem(with: item, of: element).map { "\($0) (element \(index + 1))" }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

extension PackSettingLimits {
    /// Reads and checks `min`, `max`, `choices` and `allow_empty` of the setting at `path`.
    init(_ table: LuaTableSnapshot, path: String, type: PackValueType, file: String) throws(PackError) {
        func fail(_ field: String, _ problem: String) -> PackError {
            PackError("\(file): field '\(path).\(field)': \(problem)")
        }
        let element: PackValueType
        if case .list(let inner) = type { element = inner } else { element = type }
        self.init()
        for (field, bound) in [("min", \PackSettingLimits.minimum), ("max", \PackSettingLimits.maximum)] {
            guard let given = table[path + "." + field] else { continue }
            guard element == .integer || element == .port else {
                throw fail(field, "only an integer or a port (or a list of them) has a \(field), not \(type)")
            }
            guard case .integer(let number) = given else {
                throw fail(field, "expected an integer, got \(given.typeName)")
            }
            if element == .port, !(0...65535).contains(number) {
                throw fail(field, "\(number) is not a port (0..65535)")
            }
            self[keyPath: bound] = number
        }
        if let minimum, let maximum, minimum > maximum {
            throw fail("max", "\(maximum) is below min, \(minimum)")
        }
        if let given = table[path + ".choices"] {
            guard ![.boolean, .file, .folder].contains(element) else {
                throw fail("choices", "a \(element) setting has no choices")
            }
            guard case .table = given, case .list(let values)? = PackSetting.value(table, path + ".choices", .list(element)),
                  !values.isEmpty else {
                throw fail("choices", "expected a non-empty list of \(element) values")
            }
            for (index, value) in values.enumerated() {
                if let problem = PackSettingLimits(minimum: minimum, maximum: maximum).problem(with: value, of: element) {
                    throw fail("choices[\(index + 1)]", problem)
                }
            }
            choices = values
        }
        if let given = table[path + ".allow_empty"] {
            guard case .list = type else { throw fail("allow_empty", "only a list may be empty, not \(type)") }
            guard case .boolean(let flag) = given else {
                throw fail("allow_empty", "expected true or false, got \(given.typeName)")
            }
            allowsEmpty = flag
        }
    }
}

/// What is wrong with the text given for a setting, worded to follow
/// "setting 'ports' = '0,70000'".
public struct PackSettingProblem: Error, Sendable {
    public let text: String
}

extension PackSetting {
    /// The value `--set NAME=text` gives, checked against the type and the limits; a
    /// list's wrong elements are each named, with their position.
    public func value(from text: String) -> Result<PackValue, PackSettingProblem> {
        guard case .list(let element) = type else {
            return Self.element(text, of: type, limits: limits).mapError { PackSettingProblem(text: $0.isTypeMismatch
                ? " is not \(type.expectation)" : ": " + $0.text) }
        }
        if text.utf8.allSatisfy({ $0 == 0x20 }) {
            return limits.allowsEmpty ? .success(.list([]))
                : .failure(PackSettingProblem(text: ": an empty list is not allowed here (give at least one \(element) value)"))
        }
        var values: [PackValue] = []
        var problems: [String] = []
        for (index, item) in text.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let trimmed = item.trimmingSpaces
            guard !trimmed.isEmpty else {
                problems.append("element \(index + 1) is empty")
                continue
            }
            switch Self.element(trimmed, of: element, limits: limits) {
            case .success(let value): values.append(value)
            case .failure(let problem):
                problems.append((problem.isTypeMismatch ? "'\(trimmed)' is not \(element.expectation)" : problem.text)
                    + " (element \(index + 1))")
            }
        }
        guard problems.isEmpty else {
            return .failure(PackSettingProblem(text: ": " + problems.joined(separator: "; ")))
        }
        return .success(.list(values))
    }

    private struct ElementProblem: Error {
        var text: String
        /// The text is not of the type at all (as opposed to out of range, not a choice).
        var isTypeMismatch: Bool
    }

    private static func element(_ text: String, of type: PackValueType,
                                limits: PackSettingLimits) -> Result<PackValue, ElementProblem> {
        let value: PackValue
        if type == .port || type == .integer {
            guard let number = Int64(text) else { return .failure(ElementProblem(text: "", isTypeMismatch: true)) }
            value = .integer(number)
        } else {
            guard let parsed = type.parse(text) else { return .failure(ElementProblem(text: "", isTypeMismatch: true)) }
            value = parsed
        }
        if let problem = limits.problem(with: value, of: type) {
            return .failure(ElementProblem(text: problem, isTypeMismatch: false))
        }
        return .success(value)
    }

    /// The type, the default and what else it takes, for `tapir pack info`: "list of
    /// port, default 7, each 1..65535, may be empty"; "boolean, default true, one of
    /// true/yes/on/1 or false/no/off/0 in any case".
    public var summary: String {
        var parts = [type.description, "default \(defaultValue)"]
        let element: PackValueType
        if case .list(let inner) = type { element = inner } else { element = type }
        let each = element == type ? "" : "each "
        if limits.minimum != nil || limits.maximum != nil, let range = limits.rangeText(of: element) {
            parts.append(each + range)
        }
        if let choices = limits.choices {
            parts.append(each + "one of " + choices.map(\.description).joined(separator: ", "))
        }
        if element == .boolean { parts.append(each + "one of " + PackValueType.booleanWords) }
        if limits.allowsEmpty { parts.append("may be empty") }
        return parts.joined(separator: ", ")
    }
}
