import Foundation

extension Value: Equatable {
    /// Python equality (`pythonEqual`): `1 == 1.0`, dicts ignore order, NaN differs from itself,
    /// functions and loop states never compare equal.
    public static func == (a: Value, b: Value) -> Bool { pythonEqual(a, b) }
}

extension Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    /// `"text"` is a string value.
    public init(stringLiteral value: String) { self = .string(value) }
    /// `3` is an int value.
    public init(integerLiteral value: Int) { self = .int(value) }
    /// `2.5` is a float value.
    public init(floatLiteral value: Double) { self = .double(value) }
    /// `true` is a bool value.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// `[a, b]` is a list.
    public init(arrayLiteral elements: Value...) { self = .array(elements) }
    /// `["role": "user", "content": "hi"]` is a dict whose keys keep the order written.
    public init(dictionaryLiteral elements: (String, Value)...) { self = .object(OrderedObject(elements)) }
    /// `nil` is `None`.
    public init(nilLiteral: ()) { self = .none }
}

extension Value {
    /// A list of messages built from Swift dictionaries, e.g. `[["role": "user", "content": "hi"]]`.
    ///
    /// Swift dictionaries have no order, so keys come out as `role`, `content`, then the others
    /// sorted; use dictionary literals of `Value` or `parseJSON` when key order matters (it
    /// does for `tojson` and for printing a message).
    public init(messages: [[String: String]]) {
        func rank(_ key: String) -> Int { key == "role" ? 0 : key == "content" ? 1 : 2 }
        self = .array(messages.map { m in
            let keys = m.keys.sorted { (rank($0), $0) < (rank($1), $1) }
            return .object(OrderedObject(keys.map { ($0, .string(m[$0] ?? "")) }))
        })
    }

    /// Converts what `JSONSerialization` (or plain Swift code) produces: `NSNull`, `Bool`,
    /// numbers, `String`, arrays and `[String: Any]` dictionaries; anything else becomes
    /// `undefined`.
    ///
    /// Foundation dictionaries do not keep key order, so object keys are sorted here (the
    /// result is deterministic but may differ from the file's order). For output that must
    /// match Python's dict order, as `tojson` does, parse the text with `parseJSON` instead.
    public init(json: Any) {
        switch json {
        case is NSNull:
            self = .none
        case let v as Value:
            self = v
        case let b as Bool where type(of: json) == Bool.self:
            self = .bool(b)
        case let i as Int where type(of: json) == Int.self:
            self = .int(i)
        case let d as Double where type(of: json) == Double.self:
            self = .double(d)
        case let n as NSNumber:
            self = Value.fromNumber(n)
        case let s as String:
            self = .string(s)
        case let a as [Any]:
            self = .array(a.map { Value(json: $0) })
        case let d as [String: Any]:
            self = .object(OrderedObject(d.keys.sorted().map { ($0, Value(json: d[$0] as Any)) }))
        case Optional<Any>.none:
            self = .none
        default:
            self = .undefined
        }
    }

    /// JSONSerialization's numbers: `true`/`false` are NSNumbers of type "c" (char), which JSON
    /// numbers never are; "d"/"f" are floats; the rest are integers.
    private static func fromNumber(_ n: NSNumber) -> Value {
        let type = String(cString: n.objCType)
        if type == "c" || type == "B" { return .bool(n.boolValue) }
        if type == "d" || type == "f" { return .double(n.doubleValue) }
        return .int(n.intValue)
    }
}
