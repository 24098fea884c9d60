import Foundation

/// A value a template works with: what Python objects are to jinja2.
///
/// The cases follow Python's types as chat templates see them: `undefined` is jinja2's
/// `Undefined` (a missing variable or key; prints as nothing, is falsy, fails on attribute
/// access), `none` is Python's `None`. Objects keep their keys in insertion order, as Python
/// dicts do, so `tojson` and printing match Python key for key.
public enum Value: Sendable {
    /// A missing variable, key or attribute (jinja2's `Undefined`).
    case undefined
    /// Python's `None` (`none` / `None` in templates, `null` in JSON).
    case none
    /// `True` / `False`.
    case bool(Bool)
    /// A Python int. Arithmetic that overflows 64 bits is an error, not a wrap-around.
    case int(Int)
    /// A Python float.
    case double(Double)
    /// A Python str. Lengths, indices and slices count Unicode scalars, as Python does.
    case string(String)
    /// A Python list.
    case array([Value])
    /// A Python tuple (from `(a, b)`, `dict.items()`, `for a, b in ...`): prints as `(a, b)`.
    case tuple([Value])
    /// A Python dict with string keys, in insertion order.
    case object(OrderedObject)
    /// A `namespace(...)` object: the one mutable value, shared by reference.
    case namespace(Namespace)
    /// Something callable: a macro, a built-in function, a bound method, or a Swift closure.
    case function(TemplateFunction)
    /// The `loop` variable of a `for` loop.
    case loop(LoopState)
}

/// A string-keyed dictionary that keeps insertion order, like a Python dict.
///
/// Assigning an existing key replaces its value in place (keeps its position), as in Python.
public struct OrderedObject: Sendable, Equatable {
    /// The keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: Value] = [:]

    /// An empty object.
    public init() {}

    /// An object with `pairs` in order; a repeated key keeps its first position and last value.
    public init(_ pairs: [(String, Value)]) {
        keys.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// The number of keys.
    public var count: Int { keys.count }
    /// Whether there are no keys.
    public var isEmpty: Bool { keys.isEmpty }

    /// The value for `key`, or nil; assigning nil removes the key.
    public subscript(key: String) -> Value? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The values in key order.
    public var values: [Value] { keys.map { storage[$0] ?? .undefined } }

    /// The (key, value) pairs in order.
    public var pairs: [(key: String, value: Value)] { keys.map { ($0, storage[$0] ?? .undefined) } }

    /// Python dict equality: same keys and equal values, order ignored.
    public static func == (a: OrderedObject, b: OrderedObject) -> Bool {
        guard a.count == b.count else { return false }
        for (k, v) in a.storage {
            guard let w = b.storage[k], Value.pythonEqual(v, w) else { return false }
        }
        return true
    }
}

/// The object `namespace(...)` returns: attributes a template can set from inside loops
/// (`{% set ns.found = true %}`), which plain variables cannot do because a loop body's
/// assignments do not leave the loop.
///
/// A reference type, as in jinja2: every copy of the value sees the same attributes. It is
/// created and mutated only by the single render call that made it, so it is never shared
/// across threads (hence `@unchecked Sendable`).
public final class Namespace: @unchecked Sendable {
    /// The attributes, in the order they were first set.
    public internal(set) var attributes: OrderedObject

    /// A namespace with the given attributes.
    public init(_ attributes: OrderedObject = OrderedObject()) {
        self.attributes = attributes
    }
}

/// The state behind a `for` loop's `loop` variable.
public struct LoopState: Sendable {
    /// The items being iterated (after the loop's `if` filter).
    let items: [Value]
    /// The 0-based position of the current item.
    let index0: Int
}

/// Something a template can call: `name(args)`.
///
/// Callers can add their own functions to a render context with `init(name:_:)`; the body
/// receives positional and keyword arguments and returns a value or throws (a thrown
/// `TemplateError` passes through unchanged, any other error becomes a `runtime` error).
public struct TemplateFunction: Sendable {
    /// Positional and keyword arguments of a call.
    public struct Arguments: Sendable {
        /// Positional arguments in order.
        public var positional: [Value]
        /// Keyword arguments in the order written.
        public var keyword: [(String, Value)]

        /// Creates an argument list.
        public init(positional: [Value] = [], keyword: [(String, Value)] = []) {
            self.positional = positional
            self.keyword = keyword
        }
    }

    /// The body of a function supplied by Swift code.
    public typealias Body = @Sendable (Arguments) throws -> Value

    enum Kind: @unchecked Sendable {
        case swift(Body)
        case builtin(String)
        indirect case method(receiver: Value, name: String)
        case macro(MacroDefinition, visibleFrom: Int?)  // visibleFrom: the call site scope a `caller` sees
    }

    /// A readable name, used in error messages and when the function is printed.
    public let name: String
    let kind: Kind

    /// A function implemented in Swift, e.g. a tool the template may call.
    public init(name: String, _ body: @escaping Body) {
        self.name = name
        self.kind = .swift(body)
    }

    init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }
}

extension Value {
    /// Whether this is `undefined`.
    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The string payload, or nil.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Python's truth value: empty strings, collections, zero, `None`, `False` and undefined are false.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a), .tuple(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        case .namespace, .function, .loop: return true
        }
    }

    /// The Python type name, for error messages (`'int' object is not iterable`).
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .tuple: return "tuple"
        case .object: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        case .loop: return "LoopContext"
        }
    }

    /// Python `==`: numbers compare by value across int, float and bool; strings by Unicode
    /// scalars (not by Swift's canonical equivalence); lists and tuples element-wise (a list
    /// never equals a tuple); dicts ignore key order; two undefined values are equal.
    public static func pythonEqual(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)), (.tuple(let x), .tuple(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { pythonEqual($0, $1) }
        case (.object(let x), .object(let y)): return x == y
        case (.namespace(let x), .namespace(let y)): return x === y
        default:
            if let x = a.numeric, let y = b.numeric {
                switch (x, y) {
                case (.int(let i), .int(let j)): return i == j
                default: return x.asDouble == y.asDouble
                }
            }
            return false
        }
    }

    /// The value as a number if it is one (bools are ints, as in Python).
    var numeric: Value? {
        switch self {
        case .int, .double: return self
        case .bool(let b): return .int(b ? 1 : 0)
        default: return nil
        }
    }

    /// A numeric value as Double (0 for non-numbers; callers check `numeric` first).
    var asDouble: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return 0
        }
    }
}
