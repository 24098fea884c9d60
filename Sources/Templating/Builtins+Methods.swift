/// Python methods that chat templates call on strings, dicts and lists, and `loop.cycle`.
extension Renderer {
    func callMethod(_ receiver: Value, _ name: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        switch receiver {
        case .string(let s): return try stringMethod(s, name, args, at: offset)
        case .object(let o): return try dictMethod(o, name, args, at: offset)
        case .array(let items), .tuple(let items): return try listMethod(receiver, items, name, args, at: offset)
        case .loop(let l) where name == "cycle":
            guard !args.positional.isEmpty else { throw runtime("no items for cycling given", at: offset) }
            return args.positional[l.index0 % args.positional.count]
        default:
            throw runtime("'\(receiver.typeName)' object has no method '\(name)'", at: offset)
        }
    }

    func unsafe(_ name: String, _ type: String, at offset: Int) -> TemplateError {
        runtime("access to attribute '\(name)' of '\(type)' object is unsafe (chat templates run in an immutable sandbox, "
            + "as in transformers; build a new value with + or a namespace instead)", at: offset)
    }

    private func stringMethod(_ s: String, _ name: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        func bound(_ parameters: [String], required: Int = 0) throws -> Bound {
            try bind(args, parameters, function: "str.\(name)", required: required, at: offset)
        }
        func optionalString(_ v: Value?) throws -> String? {
            guard let v, v != .none else { return nil }
            return try expectString(v, "the argument of str.\(name)", at: offset)
        }
        func optionalInt(_ v: Value?) throws -> Int? {
            guard let v, v != .none else { return nil }
            return try expectInt(v, "the argument of str.\(name)", at: offset)
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try optionalString(try bound(["chars"])[0])
            return .string(PythonString.strip(s, chars: chars, leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            let b = try bound(["sep", "maxsplit"])
            let sep = try optionalString(b[0])
            if sep == "" { throw runtime("empty separator", at: offset) }
            let maxSplit = try optionalInt(b[1]) ?? -1
            let parts = name == "split" ? PythonString.split(s, separator: sep, maxSplit: maxSplit) : PythonString.rsplit(s, separator: sep, maxSplit: maxSplit)
            return .array(parts.map { .string($0) })
        case "splitlines":
            let keep = try bound(["keepends"])[0]?.isTruthy ?? false
            return .array(PythonString.splitLines(s, keepEnds: keep).map { .string($0) })
        case "startswith", "endswith":
            let b = try bound(["prefix", "start", "end"], required: 1)
            var text = s
            if b[1] != nil || b[2] != nil {
                let scalars = Array(s.unicodeScalars)
                let (lo, hi) = PythonString.sliceBounds(count: scalars.count, start: try optionalInt(b[1]), end: try optionalInt(b[2]))
                text = lo < hi ? PythonString.string(scalars[lo..<hi]) : ""
            }
            let candidates: [Value]
            if case .tuple(let items) = b[0] ?? .none { candidates = items } else { candidates = [b[0] ?? .none] }
            for candidate in candidates {
                let p = try expectString(candidate, "str.\(name)'s argument", at: offset)
                if name == "startswith" ? PythonString.hasPrefix(text, p) : PythonString.hasSuffix(text, p) { return .bool(true) }
            }
            return .bool(false)
        case "upper": _ = try bound([]); return .string(s.uppercased())
        case "lower": _ = try bound([]); return .string(s.lowercased())
        case "title": _ = try bound([]); return .string(PythonString.title(s))
        case "capitalize": _ = try bound([]); return .string(PythonString.capitalize(s))
        case "swapcase":
            _ = try bound([])
            return .string(s.unicodeScalars.map { c in
                c.properties.isUppercase ? PythonString.lower(c) : c.properties.isLowercase ? PythonString.upper(c) : String(c)
            }.joined())
        case "replace":
            let b = try bound(["old", "new", "count"], required: 2)
            let result = PythonString.replace(s, try expectString(b[0], "str.replace's old", at: offset),
                try expectString(b[1], "str.replace's new", at: offset), count: try optionalInt(b[2]) ?? -1)
            try checkSize(result, at: offset)
            return .string(result)
        case "find", "rfind", "index", "rindex":
            let b = try bound(["sub", "start", "end"], required: 1)
            let i = PythonString.find(s, try expectString(b[0], "str.\(name)'s argument", at: offset), start: try optionalInt(b[1]),
                end: try optionalInt(b[2]), reverse: name.hasPrefix("r"))
            if i < 0, name.hasSuffix("index") { throw runtime("substring not found", at: offset) }
            return .int(i)
        case "count":
            let b = try bound(["sub"], required: 1)
            return .int(PythonString.count(s, try expectString(b[0], "str.count's argument", at: offset)))
        case "join":
            let b = try bound(["iterable"], required: 1)
            let items = try iterate(b[0] ?? .undefined, at: offset)
            var parts: [String] = []
            for (i, item) in items.enumerated() {
                guard case .string(let p) = item else {
                    throw runtime("sequence item \(i): expected str instance, \(item.typeName) found", at: offset)
                }
                parts.append(p)
            }
            let result = parts.joined(separator: s)
            try checkSize(result, at: offset)
            return .string(result)
        case "format":
            return .string(try format(s, args, at: offset))
        case "isdigit", "isalpha", "isalnum", "isspace":
            _ = try bound([])
            guard !s.isEmpty else { return .bool(false) }
            return .bool(s.unicodeScalars.allSatisfy { c in
                switch name {
                case "isdigit": return c.properties.numericType == .digit || c.properties.numericType == .decimal
                case "isalpha": return c.properties.isAlphabetic && c.properties.generalCategory.isLetter
                case "isspace": return PythonString.isSpace(c)
                default: return c.properties.generalCategory.isLetter || c.properties.numericType != nil
                }
            })
        case "isupper", "islower":
            _ = try bound([])
            return .bool(PythonString.hasCase(s, upper: name == "isupper"))
        case "removeprefix", "removesuffix":
            let affix = try expectString(try bound(["affix"], required: 1)[0], "str.\(name)'s argument", at: offset)
            let scalars = Array(s.unicodeScalars)
            let n = affix.unicodeScalars.count
            if name == "removeprefix" {
                return .string(PythonString.hasPrefix(s, affix) ? PythonString.string(scalars[n...]) : s)
            }
            return .string(PythonString.hasSuffix(s, affix) && n > 0 ? PythonString.string(scalars[..<(scalars.count - n)]) : s)
        default:
            throw TemplateError.unsupported(location(offset), feature: "the string method '\(name)'")
        }
    }

    private func dictMethod(_ o: OrderedObject, _ name: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        switch name {
        case "items":
            _ = try bind(args, [], function: "dict.items", at: offset)
            return .array(o.pairs.map { .tuple([.string($0.key), $0.value]) })
        case "keys":
            _ = try bind(args, [], function: "dict.keys", at: offset)
            return .array(o.keys.map { .string($0) })
        case "values":
            _ = try bind(args, [], function: "dict.values", at: offset)
            return .array(o.values)
        case "get":
            let b = try bind(args, ["key", "default"], function: "dict.get", required: 1, at: offset)
            guard case .string(let k)? = b[0] else { return b[1] ?? .none }
            return o[k] ?? b[1] ?? .none
        case "copy":
            _ = try bind(args, [], function: "dict.copy", at: offset)
            return .object(o)
        default:
            if Builtins.mutatingMethods.contains(name) { throw unsafe(name, "dict", at: offset) }
            throw TemplateError.unsupported(location(offset), feature: "the dict method '\(name)'")
        }
    }

    private func listMethod(_ receiver: Value, _ items: [Value], _ name: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        let type = receiver.typeName
        switch name {
        case "index":
            let b = try bind(args, ["value"], function: "\(type).index", required: 1, at: offset)
            guard let i = items.firstIndex(where: { Value.pythonEqual($0, b[0] ?? .undefined) }) else {
                throw runtime("\(PythonFormat.repr(b[0] ?? .undefined)) is not in \(type)", at: offset)
            }
            return .int(i)
        case "count":
            let b = try bind(args, ["value"], function: "\(type).count", required: 1, at: offset)
            return .int(items.filter { Value.pythonEqual($0, b[0] ?? .undefined) }.count)
        case "copy" where type == "list":
            return receiver
        default:
            if Builtins.mutatingMethods.contains(name) { throw unsafe(name, type, at: offset) }
            throw runtime("'\(type)' object has no attribute '\(name)'", at: offset)
        }
    }

    /// `str.format`: `{}`, `{0}`, `{name}`, `!r`/`!s` conversions and `{{`/`}}`; format specs
    /// (`{:>10}`) are not supported.
    func format(_ template: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> String {
        var out = ""
        var scalars = Array(template.unicodeScalars)[...]
        var autoIndex = 0
        while let c = scalars.popFirst() {
            if c == "}" {
                guard scalars.first == "}" else { throw runtime("single '}' encountered in format string", at: offset) }
                scalars.removeFirst()
                out += "}"
                continue
            }
            guard c == "{" else {
                out.unicodeScalars.append(c)
                continue
            }
            if scalars.first == "{" {
                scalars.removeFirst()
                out += "{"
                continue
            }
            var field = ""
            while let f = scalars.popFirst(), f != "}" { field.unicodeScalars.append(f) }
            var conversion: String?
            if let bang = field.firstIndex(of: "!") {
                conversion = String(field[field.index(after: bang)...])
                field = String(field[..<bang])
            }
            if field.contains(":") || field.contains(".") || field.contains("[") {
                throw TemplateError.unsupported(location(offset), feature: "format specs and attribute fields in str.format ('{\(field)}')")
            }
            let value: Value
            if field.isEmpty {
                guard autoIndex < args.positional.count else { throw runtime("Replacement index \(autoIndex) out of range for positional args tuple", at: offset) }
                value = args.positional[autoIndex]
                autoIndex += 1
            } else if let i = Int(field) {
                guard i < args.positional.count else { throw runtime("Replacement index \(i) out of range for positional args tuple", at: offset) }
                value = args.positional[i]
            } else {
                guard let v = args.keyword.first(where: { $0.0 == field })?.1 else { throw runtime("KeyError: '\(field)'", at: offset) }
                value = v
            }
            out += conversion == "r" ? PythonFormat.repr(value) : PythonFormat.str(value)
        }
        try checkSize(out, at: offset)
        return out
    }
}

extension Unicode.GeneralCategory {
    var isLetter: Bool {
        switch self {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
}
