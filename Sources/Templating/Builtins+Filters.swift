import Foundation

/// The filters: jinja2's built-in filters that chat templates use, plus transformers' `tojson`.
enum Filter: String, CaseIterable, Sendable {
    case abs, attr, batch, capitalize, count, d, `default`, dictsort, e, escape, first, float, indent, int, items, join
    case last, length, list, lower, map, max, min, reject, rejectattr, replace, reverse, round, safe, select, selectattr
    case sort, string, sum, title, tojson, trim, unique, upper, wordcount
}

extension Renderer {
    func applyFilter(_ filter: Filter, _ value: Value, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        let name = filter.rawValue
        func bound(_ parameters: [String], required: Int = 0) throws -> Bound {
            try bind(args, parameters, function: name, required: required, at: offset)
        }
        switch filter {
        case .abs:
            _ = try bound([])
            switch value.numeric {
            case .int(let i)?:
                guard i != .min else { throw runtime("integer overflow in abs", at: offset) }
                return .int(Swift.abs(i))
            case .double(let d)?: return .double(Swift.abs(d))
            default: throw runtime("bad operand type for abs(): '\(value.typeName)'", at: offset)
            }
        case .attr:
            // jinja2's attr reads Python attributes only, never dict keys (a dict only has its methods).
            let b = try bound(["name"], required: 1)
            let name = try expectString(b[0], "attr's name", at: offset)
            if case .object = value, !Builtins.dictMethods.contains(name) { return .undefined }
            return try attribute(of: value, name, at: offset)
        case .batch:
            let b = try bound(["linecount", "fill_with"], required: 1)
            let size = try expectInt(b[0], "batch's linecount", at: offset)
            guard size > 0 else { throw runtime("batch's linecount must be positive", at: offset) }
            let items = try iterate(value, at: offset)
            var batches: [Value] = []
            var i = 0
            while i < items.count {
                var chunk = Array(items[i..<Swift.min(i + size, items.count)])
                if chunk.count < size, let fill = b[1] { chunk += [Value](repeating: fill, count: size - chunk.count) }
                batches.append(.array(chunk))
                i += size
            }
            return .array(batches)
        case .capitalize:
            _ = try bound([])
            return .string(PythonString.capitalize(PythonFormat.str(value)))
        case .count, .length:
            _ = try bound([])
            return .int(try length(value, at: offset))
        case .d, .default:
            let b = try bound(["default_value", "boolean"])
            let useDefault = value.isUndefined || ((b[1]?.isTruthy ?? false) && !value.isTruthy)
            return useDefault ? (b[0] ?? .string("")) : value
        case .dictsort:
            let b = try bound(["case_sensitive", "by", "reverse"])
            guard case .object(let o) = value else { throw runtime("dictsort needs a dict, not \(value.typeName)", at: offset) }
            let byValue: Bool
            switch b[1] ?? .string("key") {
            case .string("key"): byValue = false
            case .string("value"): byValue = true
            default: throw runtime("dictsort's 'by' must be 'key' or 'value'", at: offset)
            }
            let caseSensitive = b[0]?.isTruthy ?? false
            let pairs = o.pairs.map { Value.tuple([.string($0.key), $0.value]) }
            return .array(try sorted(pairs, reverse: b[2]?.isTruthy ?? false, at: offset) { pair in
                guard case .tuple(let kv) = pair else { return pair }
                let key = byValue ? kv[1] : kv[0]
                return caseSensitive ? key : self.foldCase(key)
            })
        case .e, .escape:
            _ = try bound([])
            return .string(Renderer.htmlEscape(PythonFormat.str(value)))
        case .first:
            _ = try bound([])
            return try iterate(value, at: offset).first ?? .undefined
        case .last:
            _ = try bound([])
            return try iterate(value, at: offset).last ?? .undefined
        case .float:
            let b = try bound(["default"])
            return Renderer.pythonFloat(value) ?? b[0] ?? .double(0)
        case .indent:
            let b = try bound(["width", "first", "blank"])
            return .string(try indent(PythonFormat.str(value), width: b[0] ?? .int(4), first: b[1]?.isTruthy ?? false,
                blank: b[2]?.isTruthy ?? false, at: offset))
        case .int:
            let b = try bound(["default", "base"])
            let base = try b[1].map { try expectInt($0, "int's base", at: offset) } ?? 10
            return Renderer.pythonInt(value, base: base) ?? b[0] ?? .int(0)
        case .items:
            _ = try bound([])
            switch value {
            case .object(let o): return .array(o.pairs.map { .tuple([.string($0.key), $0.value]) })
            case .undefined: return .array([])
            default: throw runtime("can only get item pairs from a mapping, not \(value.typeName)", at: offset)
            }
        case .join:
            let b = try bound(["d", "attribute"])
            var items = try iterate(value, at: offset)
            if let attribute = b[1] { items = try items.map { try attributePath($0, attribute, at: offset) } }
            let separator = PythonFormat.str(b[0] ?? .string(""))
            let s = items.map(PythonFormat.str).joined(separator: separator)
            try checkSize(s, at: offset)
            return .string(s)
        case .list:
            _ = try bound([])
            return .array(try iterate(value, at: offset))
        case .lower:
            _ = try bound([])
            return .string(PythonFormat.str(value).lowercased())
        case .upper:
            _ = try bound([])
            return .string(PythonFormat.str(value).uppercased())
        case .map:
            let items = try iterate(value, at: offset)
            if args.positional.isEmpty {
                let b = try bound(["attribute", "default"])
                guard let attribute = b[0] else { throw runtime("map needs a filter name or attribute=", at: offset) }
                return .array(try items.map { item in
                    let v = try attributePath(item, attribute, at: offset)
                    return v.isUndefined ? (b[1] ?? v) : v
                })
            }
            let filterName = try expectString(args.positional[0], "map's filter name", at: offset)
            guard let mapped = Filter(rawValue: filterName) else { throw TemplateError.unknownFilter(location(offset), name: filterName) }
            let rest = TemplateFunction.Arguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return .array(try items.map { try applyFilter(mapped, $0, rest, at: offset) })
        case .max, .min:
            let b = try bound(["case_sensitive", "attribute"])
            let items = try iterate(value, at: offset)
            guard !items.isEmpty else { return .undefined }
            let caseSensitive = b[0]?.isTruthy ?? false
            let ordered = try sorted(items, reverse: false, at: offset) { item in
                let v = try b[1].map { try self.attributePath(item, $0, at: offset) } ?? item
                return caseSensitive ? v : self.foldCase(v)
            }
            return filter == .min ? ordered[0] : try maxStable(items, caseSensitive: caseSensitive, attribute: b[1], at: offset)
        case .select, .reject:
            let items = try iterate(value, at: offset)
            let keep = filter == .select
            return .array(try items.filter { try passesTest($0, args.positional, args.keyword, at: offset) == keep })
        case .selectattr, .rejectattr:
            guard let attribute = args.positional.first else { throw runtime("\(name) needs an attribute name", at: offset) }
            let items = try iterate(value, at: offset)
            let keep = filter == .selectattr
            let rest = Array(args.positional.dropFirst())
            return .array(try items.filter {
                try passesTest(try attributePath($0, attribute, at: offset), rest, args.keyword, at: offset) == keep
            })
        case .replace:
            let b = try bound(["old", "new", "count"], required: 2)
            let count = try b[2].map { $0 == .none ? -1 : try expectInt($0, "replace's count", at: offset) } ?? -1
            let s = PythonString.replace(PythonFormat.str(value), PythonFormat.str(b[0] ?? .none), PythonFormat.str(b[1] ?? .none), count: count)
            try checkSize(s, at: offset)
            return .string(s)
        case .reverse:
            _ = try bound([])
            if case .string(let s) = value { return .string(PythonString.string(s.unicodeScalars.reversed())) }
            return .array(try iterate(value, at: offset).reversed())
        case .round:
            let b = try bound(["precision", "method"])
            let precision = try b[0].map { try expectInt($0, "round's precision", at: offset) } ?? 0
            let method = try b[1].map { try expectString($0, "round's method", at: offset) } ?? "common"
            return try round(value, precision: precision, method: method, at: offset)
        case .safe, .string:
            _ = try bound([])
            if case .string = value { return value }
            return .string(PythonFormat.str(value))
        case .sort:
            let b = try bound(["reverse", "case_sensitive", "attribute"])
            let caseSensitive = b[1]?.isTruthy ?? false
            return .array(try sorted(try iterate(value, at: offset), reverse: b[0]?.isTruthy ?? false, at: offset) { item in
                let v = try b[2].map { try self.attributePath(item, $0, at: offset) } ?? item
                return caseSensitive ? v : self.foldCase(v)
            })
        case .sum:
            let b = try bound(["attribute", "start"])
            var total = b[1] ?? .int(0)
            for item in try iterate(value, at: offset) {
                let v = try b[0].map { try attributePath(item, $0, at: offset) } ?? item
                total = try binary(.add, total, v, at: offset)
            }
            return total
        case .title:
            _ = try bound([])
            return .string(PythonString.jinjaTitle(PythonFormat.str(value)))
        case .tojson:
            return try toJSON(value, args, at: offset)
        case .trim:
            let b = try bound(["chars"])
            let chars = b[0].flatMap { $0 == .none ? nil : PythonFormat.str($0) }
            return .string(PythonString.strip(PythonFormat.str(value), chars: chars))
        case .unique:
            let b = try bound(["case_sensitive", "attribute"])
            let caseSensitive = b[0]?.isTruthy ?? false
            var seen: [Value] = []
            var out: [Value] = []
            for item in try iterate(value, at: offset) {
                var key = try b[1].map { try attributePath(item, $0, at: offset) } ?? item
                if !caseSensitive { key = foldCase(key) }
                if !seen.contains(where: { Value.pythonEqual($0, key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .array(out)
        case .wordcount:
            _ = try bound([])
            var count = 0
            var inWord = false
            for c in PythonFormat.str(value).unicodeScalars {
                let isWord = c == "_" || c.properties.isAlphabetic || c.properties.numericType != nil
                if isWord && !inWord { count += 1 }
                inWord = isWord
            }
            return .int(count)
        }
    }

    /// `len(value)`; undefined has length 0, as jinja2's Undefined does.
    func length(_ value: Value, at offset: Int) throws -> Int {
        switch value {
        case .string(let s): return s.unicodeScalars.count
        case .array(let a), .tuple(let a): return a.count
        case .object(let o): return o.count
        case .undefined: return 0
        case .loop(let l): return l.items.count
        default: throw runtime("object of type '\(value.typeName)' has no len()", at: offset)
        }
    }

    /// Lower-cases strings (the key jinja2's sort, unique, min and max use unless case_sensitive).
    func foldCase(_ v: Value) -> Value {
        if case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// A stable sort by `key` with Python ordering; `reverse` keeps equal items in order, as Python does.
    func sorted(_ items: [Value], reverse: Bool, at offset: Int, key: (Value) throws -> Value) throws -> [Value] {
        let keyed = try items.enumerated().map { ($0.offset, try key($0.element), $0.element) }
        var failure: Error?
        let ordered = keyed.sorted { a, b in
            do {
                let order = try pythonOrder(a.1, b.1, at: offset, op: .lt) ?? 0
                if order != 0 { return reverse ? order > 0 : order < 0 }
            } catch {
                failure = failure ?? error
            }
            return a.0 < b.0
        }
        if let failure { throw failure }
        return ordered.map(\.2)
    }

    /// Python's `max` returns the first of equal maxima.
    func maxStable(_ items: [Value], caseSensitive: Bool, attribute: Value?, at offset: Int) throws -> Value {
        var best = items[0]
        func key(_ item: Value) throws -> Value {
            let v = try attribute.map { try attributePath(item, $0, at: offset) } ?? item
            return caseSensitive ? v : foldCase(v)
        }
        var bestKey = try key(best)
        for item in items.dropFirst() {
            let k = try key(item)
            if (try pythonOrder(k, bestKey, at: offset, op: .gt) ?? 0) > 0 {
                best = item
                bestKey = k
            }
        }
        return best
    }

    /// jinja2's attribute getter for `map(attribute=)`, `selectattr`, `sort(attribute=)`:
    /// a dotted path whose integer parts index lists.
    func attributePath(_ item: Value, _ path: Value, at offset: Int) throws -> Value {
        if case .int = path { return try self.item(of: item, path, at: offset) }
        let parts = PythonFormat.str(path).split(separator: ".", omittingEmptySubsequences: false)
        var v = item
        for part in parts {
            if let i = Int(part) {
                v = try self.item(of: v, .int(i), at: offset)
            } else {
                v = try self.item(of: v, .string(String(part)), at: offset)
            }
        }
        return v
    }

    /// For select/reject: the named test with arguments, or truthiness when no test is named.
    func passesTest(_ value: Value, _ positional: [Value], _ keyword: [(String, Value)], at offset: Int) throws -> Bool {
        guard let first = positional.first else { return value.isTruthy }
        let name = try expectString(first, "the test name", at: offset)
        guard let test = TemplateTest(rawValue: name) else { throw TemplateError.unknownTest(location(offset), name: name) }
        return try applyTest(test, value, TemplateFunction.Arguments(positional: Array(positional.dropFirst()), keyword: keyword), at: offset)
    }

    /// markupsafe's escape: `&`, `<`, `>`, `'` and `"`.
    static func htmlEscape(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x27 || $0 == 0x22 }) else { return s }
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&#39;"
            case "\"": out += "&#34;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Python's `float(value)`, or nil where Python raises.
    static func pythonFloat(_ value: Value) -> Value? {
        switch value {
        case .int, .bool, .double: return .double(value.asDouble)
        case .string(let s):
            let t = PythonString.strip(s, chars: nil).lowercased()
            switch t {
            case "inf", "+inf", "infinity", "+infinity": return .double(.infinity)
            case "-inf", "-infinity": return .double(-.infinity)
            case "nan", "+nan", "-nan": return .double(.nan)
            default: break
            }
            guard !t.isEmpty, t.unicodeScalars.allSatisfy({ "0123456789.eE+-_".unicodeScalars.contains($0) }),
                let d = Double(t.replacingOccurrences(of: "_", with: ""))
            else { return nil }
            return .double(d)
        default: return nil
        }
    }

    /// jinja2's `int` filter: `int(value, base)` for strings, `int(value)` otherwise, then
    /// `int(float(value))`; nil where all fail.
    static func pythonInt(_ value: Value, base: Int) -> Value? {
        switch value {
        case .int, .bool: return value.numeric
        case .double(let d):
            guard d.isFinite, Swift.abs(d) < 9.2e18 else { return nil }
            return .int(Int(d.rounded(.towardZero)))
        case .string(let s):
            var t = PythonString.strip(s, chars: nil).replacingOccurrences(of: "_", with: "")
            var negative = false
            if t.hasPrefix("-") || t.hasPrefix("+") {
                negative = t.hasPrefix("-")
                t.removeFirst()
            }
            let prefixes = [16: "0x", 8: "0o", 2: "0b"]
            if let p = prefixes[base], t.lowercased().hasPrefix(p) { t.removeFirst(2) }
            if (2...36).contains(base), !t.isEmpty, let i = Int(t, radix: base) { return .int(negative ? -i : i) }
            if let f = pythonFloat(value), case .double(let d) = f { return pythonInt(.double(d), base: base) }
            return nil
        default: return nil
        }
    }

    /// jinja2's `indent`: indents every line but the first (and blank lines only if `blank`).
    func indent(_ s: String, width: Value, first: Bool, blank: Bool, at offset: Int) throws -> String {
        let indentation: String
        switch width {
        case .string(let w): indentation = w
        default: indentation = String(repeating: " ", count: Swift.max(0, try expectInt(width, "indent's width", at: offset)))
        }
        let lines = PythonString.splitLines(s + "\n")
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indentation)
        } else {
            out = lines.first ?? ""
            if lines.count > 1 {
                out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n")
            }
        }
        if first { out = indentation + out }
        try checkSize(out, at: offset)
        return out
    }

    /// jinja2's `round`: Python's round-half-even to `precision` digits for "common" (an int stays
    /// an int when precision is 0... as Python's round(int, 0) does), or floor/ceil.
    func round(_ value: Value, precision: Int, method: String, at offset: Int) throws -> Value {
        guard let n = value.numeric else { throw runtime("round needs a number, not \(value.typeName)", at: offset) }
        switch method {
        case "common":
            if case .int = n { return n }
            let d = n.asDouble
            guard d.isFinite else { return .double(d) }
            if precision == 0 { return .double(d.rounded(.toNearestOrEven)) }
            // printf rounds the exact binary value half-to-even, which is what Python's round does.
            let text = String(format: "%.\(Swift.max(0, Swift.min(precision, 300)))f", d)
            if precision < 0 {
                let scale = Foundation.pow(10.0, Double(-precision))
                return .double((d / scale).rounded(.toNearestOrEven) * scale)
            }
            return .double(Double(text) ?? d)
        case "floor", "ceil":
            let scale = Foundation.pow(10.0, Double(precision))
            let scaled = n.asDouble * scale
            return .double((method == "floor" ? scaled.rounded(.down) : scaled.rounded(.up)) / scale)
        default:
            throw runtime("round's method must be 'common', 'ceil' or 'floor', not '\(method)'", at: offset)
        }
    }

    /// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
    func toJSON(_ value: Value, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        let b = try bind(args, ["ensure_ascii", "indent", "separators", "sort_keys"], function: "tojson", at: offset)
        var options = JSONDumpOptions()
        options.ensureASCII = b[0]?.isTruthy ?? false
        switch b[1] ?? .none {
        case .none: options.indent = nil
        case .string(let s): options.indent = s
        case let v:
            guard case .int(let n)? = v.numeric, !v.isDouble else { throw runtime("tojson's indent must be an int or a string", at: offset) }
            options.indent = String(repeating: " ", count: Swift.max(0, n))
        }
        if options.indent != nil { options.itemSeparator = "," }
        if let separators = b[2], separators != .none {
            let parts = try iterate(separators, at: offset)
            guard parts.count == 2, case .string(let item) = parts[0], case .string(let key) = parts[1] else {
                throw runtime("tojson's separators must be two strings", at: offset)
            }
            options.itemSeparator = item
            options.keySeparator = key
        }
        options.sortKeys = b[3]?.isTruthy ?? false
        var badType: String?
        guard let text = value.jsonDump(options, badType: &badType) else {
            throw runtime("Object of type \(badType ?? value.typeName) is not JSON serializable", at: offset)
        }
        try checkSize(text, at: offset)
        return .string(text)
    }
}
