import Foundation

/// Any JSON value, as a request body holds it: the server reads fields one by one so that each
/// wrong type or value is refused naming its path (`messages[1].content`), and so that fields
/// it does not know are ignored, as OpenAI's clients send many.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    /// A number written without fraction or exponent that fits in 64 bits.
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    /// Parses a request body; a body that is not one JSON object is `ServingError.malformedJSON`.
    static func object(from data: Data) throws -> JSONObject {
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch DecodingError.dataCorrupted {
            // JSONDecoder says only "not valid JSON"; JSONSerialization says where and why.
            var reason = "not valid JSON"
            do { _ = try JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed) } catch {
                reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? reason
            }
            throw ServingError.malformedJSON(reason: reason)
        } catch {
            throw ServingError.malformedJSON(reason: "\(error)")
        }
        guard case let .object(fields) = value else {
            throw ServingError.malformedJSON(reason: "the body must be a JSON object, got \(value.kind)")
        }
        return JSONObject(fields: fields, path: "")
    }

    /// The JSON type's name, for error messages.
    var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// A JSON object with the path it sits at, whose typed getters refuse a wrong type naming the
/// field (`ServingError.invalidParameter`). A missing field and `null` both read as nil.
struct JSONObject {
    var fields: [String: JSONValue]
    /// Path of this object in the request (`""` for the body, `messages[0]` for a message).
    var path: String

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> JSONValue? {
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    func wrongType(_ key: String, _ expected: String, _ got: JSONValue) -> ServingError {
        .invalidParameter(param: name(key), reason: "must be \(expected), got \(got.kind)")
    }

    func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case let .string(s) = v else { throw wrongType(key, "a string", v) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard case let .bool(b) = v else { throw wrongType(key, "a boolean", v) }
        return b
    }

    /// An integer; a number with a fraction is refused, one beyond 64 bits too.
    func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        switch v {
        case let .int(i): return Int(i)
        case let .double(d) where d == d.rounded() && abs(d) < 9.0e18: return Int(d)
        default: throw wrongType(key, "an integer", v)
        }
    }

    func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        switch v {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: throw wrongType(key, "a number", v)
        }
    }

    func object(_ key: String) throws -> JSONObject? {
        guard let v = value(key) else { return nil }
        guard case let .object(o) = v else { throw wrongType(key, "an object", v) }
        return JSONObject(fields: o, path: name(key))
    }

    func array(_ key: String) throws -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard case let .array(a) = v else { throw wrongType(key, "an array", v) }
        return a
    }
}
