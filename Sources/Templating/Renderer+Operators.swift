import Foundation

/// Arithmetic and comparison with Python's rules: ints stay ints (overflow is an error, not a
/// wrap), `/` always gives a float, `//` and `%` floor toward negative infinity, `+` joins
/// strings, lists and tuples, `*` repeats them.
extension Renderer {
    func binary(_ op: Operator, _ left: Value, _ right: Value, at offset: Int) throws -> Value {
        if let l = left.numeric, let r = right.numeric {
            return try arithmetic(op, l, r, at: offset)
        }
        switch (op, left, right) {
        case (.add, .string(let a), .string(let b)):
            let s = a + b
            try checkSize(s, at: offset)
            return .string(s)
        case (.add, .array(let a), .array(let b)):
            try checkCount(a.count + b.count, at: offset)
            return .array(a + b)
        case (.add, .tuple(let a), .tuple(let b)):
            try checkCount(a.count + b.count, at: offset)
            return .tuple(a + b)
        case (.mul, .string(let s), _), (.mul, _, .string(let s)):
            guard case .int(let n)? = (left.stringValue == nil ? left : right).numeric, !(left.isDouble || right.isDouble) else { break }
            guard n > 0 else { return .string("") }
            let (size, overflow) = s.utf8.count.multipliedReportingOverflow(by: n)
            if overflow || size > limits.maxOutputBytes {
                throw TemplateError.limitExceeded(location(offset), limit: "string size in bytes", value: limits.maxOutputBytes)
            }
            return .string(String(repeating: s, count: n))
        case (.mul, .array(let items), _), (.mul, _, .array(let items)):
            guard case .int(let n)? = (left.isList ? right : left).numeric, !(left.isDouble || right.isDouble) else { break }
            guard n > 0 else { return .array([]) }
            let (size, overflow) = items.count.multipliedReportingOverflow(by: n)
            if overflow { try checkCount(.max, at: offset) }
            try checkCount(size, at: offset)
            return .array(Array([[Value]](repeating: items, count: n).joined()))
        case (.mod, .string(let format), _):
            return .string(try percentFormat(format, right, at: offset))
        default:
            break
        }
        if op == .add, case .string = left {
            throw runtime("can only concatenate str (not \"\(right.typeName)\") to str", at: offset)
        }
        throw runtime("unsupported operand type(s) for \(op.rawValue): '\(left.typeName)' and '\(right.typeName)'", at: offset)
    }

    private func arithmetic(_ op: Operator, _ l: Value, _ r: Value, at offset: Int) throws -> Value {
        if case .int(let a) = l, case .int(let b) = r {
            func checked(_ result: (partialValue: Int, overflow: Bool)) throws -> Value {
                if result.overflow {
                    throw TemplateError.unsupported(location(offset), feature: "integers beyond 64 bits (\(a) \(op.rawValue) \(b) overflows)")
                }
                return .int(result.partialValue)
            }
            switch op {
            case .add: return try checked(a.addingReportingOverflow(b))
            case .sub: return try checked(a.subtractingReportingOverflow(b))
            case .mul: return try checked(a.multipliedReportingOverflow(by: b))
            case .div:
                guard b != 0 else { throw runtime("division by zero", at: offset) }
                return .double(Double(a) / Double(b))
            case .floorDiv, .mod:
                guard b != 0 else { throw runtime("integer division or modulo by zero", at: offset) }
                guard !(a == .min && b == -1) else { return try checked((0, true)) }
                var q = a / b
                var m = a % b
                if m != 0 && ((m < 0) != (b < 0)) {
                    q -= 1
                    m += b
                }
                return .int(op == .floorDiv ? q : m)
            case .pow:
                if b < 0 { return .double(Foundation.pow(Double(a), Double(b))) }
                var result = 1
                var base = a
                var e = b
                while e > 0 {
                    if e & 1 == 1 { result = try checked(result.multipliedReportingOverflow(by: base)).intValue }
                    e >>= 1
                    if e > 0 { base = try checked(base.multipliedReportingOverflow(by: base)).intValue }
                }
                return .int(result)
            default: break
            }
        }
        let a = l.asDouble
        let b = r.asDouble
        switch op {
        case .add: return .double(a + b)
        case .sub: return .double(a - b)
        case .mul: return .double(a * b)
        case .div:
            guard b != 0 else { throw runtime("float division by zero", at: offset) }
            return .double(a / b)
        case .floorDiv, .mod:
            guard b != 0 else { throw runtime("float modulo", at: offset) }
            var m = fmod(a, b)
            if m != 0 && ((m < 0) != (b < 0)) { m += b }
            if op == .mod { return .double(m == 0 ? (b < 0 ? -0.0 : 0.0) : m) }
            return .double(((a - m) / b).rounded())
        case .pow:
            if a < 0 && b.rounded() != b {
                throw TemplateError.unsupported(location(offset), feature: "a fractional power of a negative number (a complex result)")
            }
            if a == 0 && b < 0 { throw runtime("0.0 cannot be raised to a negative power", at: offset) }
            return .double(Foundation.pow(a, b))
        default:
            throw runtime("unsupported operator \(op.rawValue)", at: offset)
        }
    }

    /// One link of a comparison chain.
    func compare(_ op: CompareOperator, _ a: Value, _ b: Value, at offset: Int) throws -> Bool {
        switch op {
        case .eq: return Value.pythonEqual(a, b)
        case .ne: return !Value.pythonEqual(a, b)
        case .in: return try contains(b, a, at: offset)
        case .notIn: return try !contains(b, a, at: offset)
        case .lt, .ltEq, .gt, .gtEq:
            guard let order = try pythonOrder(a, b, at: offset, op: op) else { return false }
            switch op {
            case .lt: return order < 0
            case .ltEq: return order <= 0
            case .gt: return order > 0
            default: return order >= 0
            }
        }
    }

    /// -1, 0 or 1 as Python orders numbers, strings (by code point), lists and tuples; nil
    /// when some float is NaN (every comparison is then false); an error for unordered types.
    func pythonOrder(_ a: Value, _ b: Value, at offset: Int, op: CompareOperator) throws -> Int? {
        if let x = a.numeric, let y = b.numeric {
            if case .int(let i) = x, case .int(let j) = y { return i < j ? -1 : (i == j ? 0 : 1) }
            let p = x.asDouble
            let q = y.asDouble
            if p.isNaN || q.isNaN { return nil }
            return p < q ? -1 : (p == q ? 0 : 1)
        }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            if x.utf8.elementsEqual(y.utf8) { return 0 }
            return x.utf8.lexicographicallyPrecedes(y.utf8) ? -1 : 1
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !Value.pythonEqual(p, q) {
                return try pythonOrder(p, q, at: offset, op: op)
            }
            return x.count < y.count ? -1 : (x.count == y.count ? 0 : 1)
        default:
            if a.isUndefined || b.isUndefined { throw runtime("an undefined value cannot be compared with '\(op.rawValue)'", at: offset) }
            throw runtime("'\(op.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'", at: offset)
        }
    }

    /// Python's `needle in container`.
    func contains(_ container: Value, _ needle: Value, at offset: Int) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw runtime("'in <string>' requires string as left operand, not \(needle.typeName)", at: offset)
            }
            return n.isEmpty || PythonString.find(s, n) >= 0
        case .array(let items), .tuple(let items):
            return items.contains { Value.pythonEqual($0, needle) }
        case .object(let o):
            if case .string(let k) = needle { return o[k] != nil }
            return false
        case .namespace(let ns):
            if case .string(let k) = needle { return ns.attributes[k] != nil }
            return false
        case .undefined:
            return false
        default:
            throw runtime("argument of type '\(container.typeName)' is not iterable", at: offset)
        }
    }

    /// `"%s and %d" % (a, b)`: printf-style formatting with the common conversions.
    func percentFormat(_ format: String, _ argument: Value, at offset: Int) throws -> String {
        var args: [Value]
        if case .tuple(let items) = argument { args = items } else { args = [argument] }
        var out = ""
        var scalars = Array(format.unicodeScalars)[...]
        while let c = scalars.popFirst() {
            guard c == "%" else {
                out.unicodeScalars.append(c)
                continue
            }
            guard let conversion = scalars.popFirst() else { throw runtime("incomplete format", at: offset) }
            if conversion == "%" {
                out += "%"
                continue
            }
            guard !args.isEmpty else { throw runtime("not enough arguments for format string", at: offset) }
            let arg = args.removeFirst()
            switch conversion {
            case "s": out += PythonFormat.str(arg)
            case "r": out += PythonFormat.repr(arg)
            case "d", "i":
                guard let n = arg.numeric else { throw runtime("%\(conversion) format: a real number is required, not \(arg.typeName)", at: offset) }
                if case .int(let i) = n { out += String(i) } else { out += String(Int(n.asDouble.rounded(.towardZero))) }
            default:
                throw TemplateError.unsupported(location(offset), feature: "the %-format conversion '%\(conversion)'")
            }
        }
        guard args.isEmpty else { throw runtime("not all arguments converted during string formatting", at: offset) }
        return out
    }
}

extension Value {
    var intValue: Int {
        if case .int(let i) = self { return i }
        return 0
    }

    var isList: Bool {
        if case .array = self { return true }
        return false
    }
}
