import Foundation

/// The names the interpreter knows: tags, globals, filters, tests and methods.
enum Builtins {
    /// Statement tags, for error messages.
    static let supportedTags = [
        "if/elif/else/endif", "for/else/endfor", "set/endset", "macro/endmacro", "call/endcall", "filter/endfilter",
        "with/endwith", "generation/endgeneration", "raw/endraw", "break", "continue", "print",
    ]

    static var filterNames: [String] { Filter.allCases.map(\.rawValue) }
    static var testNames: [String] { TemplateTest.allCases.map(\.rawValue) }

    /// The globals transformers puts in its chat-template environment.
    static let globalNames: Set<String> = ["range", "dict", "namespace", "raise_exception", "strftime_now"]
    /// jinja2 globals we do not implement: calling them names them in an `unsupported` error.
    static let unsupportedGlobals: Set<String> = ["cycler", "joiner", "lipsum"]

    static func global(_ name: String) -> Value? {
        globalNames.contains(name) ? .function(TemplateFunction(name: name, kind: .builtin(name))) : nil
    }

    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "replace", "find", "rfind", "index", "rindex", "count", "join", "format",
        "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower", "swapcase", "removeprefix", "removesuffix",
    ]
    /// Python str methods that exist but are not implemented here.
    static let unsupportedStringMethods: Set<String> = [
        "casefold", "center", "encode", "expandtabs", "format_map", "isascii", "isdecimal", "isidentifier",
        "isnumeric", "isprintable", "istitle", "ljust", "maketrans", "partition", "rjust", "rpartition",
        "translate", "zfill",
    ]
    static let dictMethods: Set<String> = [
        "items", "keys", "values", "get", "copy", "pop", "popitem", "setdefault", "update", "clear", "fromkeys",
    ]
    static let listMethods: Set<String> = [
        "index", "count", "copy", "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear",
    ]
    /// Methods that modify their object: the immutable sandbox transformers uses refuses them.
    static let mutatingMethods: Set<String> = [
        "pop", "popitem", "setdefault", "update", "clear", "append", "extend", "insert", "remove", "reverse", "sort",
    ]
}

/// Bound arguments of a filter, method or global: positional and keyword arguments matched
/// to parameter names, as Python binds them.
struct Bound {
    var values: [Value?]

    subscript(_ i: Int) -> Value? { values[i] }
}

extension Renderer {
    /// Matches `args` to `parameters` (names in order); errors name the function and the
    /// offending argument.
    func bind(_ args: TemplateFunction.Arguments, _ parameters: [String], function: String, required: Int = 0, at offset: Int) throws -> Bound {
        var values = [Value?](repeating: nil, count: parameters.count)
        guard args.positional.count <= parameters.count else {
            throw runtime("\(function)() takes at most \(parameters.count) argument(s) (\(args.positional.count) given)", at: offset)
        }
        for (i, v) in args.positional.enumerated() { values[i] = v }
        for (key, v) in args.keyword {
            guard let i = parameters.firstIndex(of: key) else {
                throw runtime("\(function)() got an unexpected keyword argument '\(key)'", at: offset)
            }
            guard values[i] == nil else { throw runtime("\(function)() got multiple values for argument '\(key)'", at: offset) }
            values[i] = v
        }
        for i in 0..<required where values[i] == nil {
            throw runtime("\(function)() missing required argument '\(parameters[i])'", at: offset)
        }
        return Bound(values: values)
    }

    func expectString(_ v: Value?, _ what: String, at offset: Int) throws -> String {
        guard case .string(let s)? = v else {
            throw runtime("\(what) must be a string, not \(v?.typeName ?? "missing")", at: offset)
        }
        return s
    }

    func expectInt(_ v: Value?, _ what: String, at offset: Int) throws -> Int {
        guard let v, case .int(let i)? = v.numeric, !v.isDouble else {
            throw runtime("\(what) must be an integer, not \(v?.typeName ?? "missing")", at: offset)
        }
        return i
    }

    // MARK: Globals

    func callGlobal(_ name: String, _ args: TemplateFunction.Arguments, at offset: Int) throws -> Value {
        switch name {
        case "range":
            guard args.keyword.isEmpty, (1...3).contains(args.positional.count) else {
                throw runtime("range() takes 1 to 3 integer arguments", at: offset)
            }
            let ints = try args.positional.map { try expectInt($0, "a range() argument", at: offset) }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw runtime("range() arg 3 must not be zero", at: offset) }
            let count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0)
            if count > limits.maxRangeLength {
                throw TemplateError.limitExceeded(location(offset), limit: "range() length (jinja2's sandbox caps it too)", value: limits.maxRangeLength)
            }
            return .array(stride(from: start, to: stop, by: step).map { .int($0) })
        case "dict":
            guard args.positional.count <= 1 else { throw runtime("dict expected at most 1 argument", at: offset) }
            var object = OrderedObject()
            if let first = args.positional.first {
                switch first {
                case .object(let o): object = o
                case .array(let items), .tuple(let items):
                    for pair in items {
                        guard case .string(let k)? = try iterate(pair, at: offset).first, try iterate(pair, at: offset).count == 2 else {
                            throw runtime("dict() needs (string key, value) pairs", at: offset)
                        }
                        object[k] = try iterate(pair, at: offset)[1]
                    }
                default: throw runtime("dict() argument must be a mapping or pairs, not \(first.typeName)", at: offset)
                }
            }
            for (k, v) in args.keyword { object[k] = v }
            return .object(object)
        case "namespace":
            guard args.positional.count <= 1 else { throw runtime("namespace() takes at most one mapping argument", at: offset) }
            var object = OrderedObject()
            if let first = args.positional.first {
                guard case .object(let o) = first else { throw runtime("namespace() argument must be a mapping", at: offset) }
                object = o
            }
            for (k, v) in args.keyword { object[k] = v }
            if let bad = object.keys.first(where: { $0.hasPrefix("_") }) {
                throw runtime("chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(bad)'", at: offset)
            }
            return .namespace(Namespace(object))
        case "raise_exception":
            let bound = try bind(args, ["message"], function: "raise_exception", required: 1, at: offset)
            throw TemplateError.raised(message: PythonFormat.str(bound[0] ?? .none), location: location(offset))
        case "strftime_now":
            let bound = try bind(args, ["format"], function: "strftime_now", required: 1, at: offset)
            let format = try expectString(bound[0], "strftime_now's format", at: offset)
            return .string(try Strftime.format(format, date: options.now(), timeZone: options.timeZone) { feature in
                TemplateError.unsupported(location(offset), feature: feature)
            })
        default:
            throw TemplateError.unsupported(location(offset), feature: "the global function '\(name)'")
        }
    }
}
