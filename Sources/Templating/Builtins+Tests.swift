/// The tests (`value is name`): jinja2's built-in tests.
enum TemplateTest: String, CaseIterable, Sendable {
    case boolean, callable, defined, divisibleby, eq, equalto, escaped, even, `false`, filter, float, ge, gt
    case greaterthan, `in`, integer, iterable, le, lessthan, lower, lt, mapping, ne, none, number, odd, sameas
    case sequence, string, test, `true`, undefined, upper
    case eqSymbol = "==", neSymbol = "!=", gtSymbol = ">", geSymbol = ">=", ltSymbol = "<", leSymbol = "<="
}

extension Renderer {
    func applyTest(_ test: TemplateTest, _ value: Value, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Bool {
        func other() throws -> Value {
            try bind(args, ["other"], function: test.rawValue, required: 1, at: offset)[0] ?? .undefined
        }
        func noArguments() throws {
            _ = try bind(args, [], function: test.rawValue, at: offset)
        }
        switch test {
        case .boolean:
            try noArguments()
            if case .bool = value { return true }
            return false
        case .callable:
            try noArguments()
            if case .function = value { return true }
            return false
        case .defined:
            try noArguments()
            return !value.isUndefined
        case .undefined:
            try noArguments()
            return value.isUndefined
        case .divisibleby:
            let divisor = try bind(args, ["num"], function: "divisibleby", required: 1, at: offset)[0] ?? .undefined
            guard value.numeric != nil, divisor.numeric != nil else {
                throw runtime("divisibleby needs numbers, not \(value.typeName) and \(divisor.typeName)", at: offset)
            }
            return Value.pythonEqual(try binary(.mod, value, divisor, at: offset), .int(0))
        case .eq, .equalto, .eqSymbol:
            return Value.pythonEqual(value, try other())
        case .ne, .neSymbol:
            return !Value.pythonEqual(value, try other())
        case .gt, .greaterthan, .gtSymbol:
            return try compare(.gt, value, try other(), at: offset)
        case .ge, .geSymbol:
            return try compare(.gtEq, value, try other(), at: offset)
        case .lt, .lessthan, .ltSymbol:
            return try compare(.lt, value, try other(), at: offset)
        case .le, .leSymbol:
            return try compare(.ltEq, value, try other(), at: offset)
        case .escaped:
            try noArguments()
            return false
        case .even, .odd:
            try noArguments()
            guard value.numeric != nil else {
                throw runtime(value.isUndefined ? "an undefined value was tested with '\(test.rawValue)'" : "'\(test.rawValue)' needs a number, not \(value.typeName)", at: offset)
            }
            let remainder = try binary(.mod, value, .int(2), at: offset)
            return Value.pythonEqual(remainder, .int(0)) == (test == .even)
        case .false:
            try noArguments()
            return value == .bool(false) && value.isBool
        case .true:
            try noArguments()
            return value == .bool(true) && value.isBool
        case .filter:
            try noArguments()
            return Filter(rawValue: PythonFormat.str(value)) != nil
        case .test:
            try noArguments()
            return TemplateTest(rawValue: PythonFormat.str(value)) != nil
        case .float:
            try noArguments()
            return value.isDouble
        case .integer:
            try noArguments()
            if case .int = value { return true }
            return false
        case .number:
            try noArguments()
            return value.numeric != nil
        case .in:
            let b = try bind(args, ["seq"], function: "in", required: 1, at: offset)
            return try contains(b[0] ?? .undefined, value, at: offset)
        case .iterable:
            try noArguments()
            switch value {
            case .string, .array, .tuple, .object, .undefined, .loop: return true
            default: return false
            }
        case .sequence:
            try noArguments()
            switch value {
            case .string, .array, .tuple, .object, .undefined: return true
            default: return false
            }
        case .mapping:
            try noArguments()
            if case .object = value { return true }
            return false
        case .none:
            try noArguments()
            if case .none = value { return true }
            return false
        case .string:
            try noArguments()
            if case .string = value { return true }
            return false
        case .lower, .upper:
            try noArguments()
            return PythonString.hasCase(PythonFormat.str(value), upper: test == .upper)
        case .sameas:
            let o = try other()
            switch (value, o) {
            case (.namespace(let a), .namespace(let b)): return a === b
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.int(let a), .int(let b)): return a == b  // CPython caches small ints; templates compare those
            default: return false
            }
        }
    }
}

extension Value {
    var isBool: Bool {
        if case .bool = self { return true }
        return false
    }
}

extension PythonString {
    /// Python's `islower()` / `isupper()`: at least one cased character, and every cased
    /// character in that case.
    static func hasCase(_ s: String, upper: Bool) -> Bool {
        var sawCased = false
        for c in s.unicodeScalars where c.properties.isCased {
            sawCased = true
            if upper ? c.properties.isLowercase : c.properties.isUppercase { return false }
            if !(upper ? c.properties.isUppercase : c.properties.isLowercase) && c.properties.generalCategory == .titlecaseLetter { return false }
        }
        return sawCased
    }
}
