/// How to verify a response to one synthetic example. Stored as the record's `check`
/// object, so a checker needs only the record and the response. Every kind first trims
/// whitespace and newlines around the response; after that, matching is exact.
///
/// JSON forms (`kind` selects the case; unknown kinds and unknown fields are errors):
///
///     {"kind": "exact",     "answer": "8"}
///     {"kind": "json_key",  "key": "name", "value": "cat"}        // value optional
///     {"kind": "ends_with", "phrase": "The end.", "body": "cat sun"} // body optional
///     {"kind": "all_caps",  "answer": "THE RED CAT"}               // answer optional
///     {"kind": "bullets",   "items": ["cat", "sun"]}
///     {"kind": "quoted",    "text": "the red cat"}
public enum SynthCheck: Equatable, Sendable {
    /// The trimmed response equals `answer`.
    case exact(answer: String)

    /// The trimmed response is one JSON object with member `key`; when `value` is given the
    /// member is a JSON string equal to it. Other members are allowed.
    case jsonKey(key: String, value: String?)

    /// The trimmed response ends with `phrase`; when `body` is given, the text before the
    /// phrase, trimmed, equals `body`.
    case endsWith(phrase: String, body: String?)

    /// The trimmed response has at least one letter and no lowercase letter; when `answer`
    /// is given it also equals `answer`.
    case allCaps(answer: String?)

    /// IFEval's `detectable_format:number_bullet_lists` with `num_bullets` = the item count
    /// passes, and the bullet lines (`* ` or `- `) hold exactly `items`, in order.
    case bullets(items: [String])

    /// IFEval's `startend:quotation` passes, and the text inside the quotation marks, trimmed,
    /// equals `text`.
    case quoted(text: String)

    /// The `kind` string of this case in JSON.
    public var kind: String {
        switch self {
        case .exact: return "exact"
        case .jsonKey: return "json_key"
        case .endsWith: return "ends_with"
        case .allCaps: return "all_caps"
        case .bullets: return "bullets"
        case .quoted: return "quoted"
        }
    }

    /// Every `kind` a check object may have.
    public static let kinds = ["exact", "json_key", "ends_with", "all_caps", "bullets", "quoted"]
}

extension SynthCheck: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes and validates a check object. Errors are `DecodingError`s whose coding path
    /// names the field and whose description says what was expected.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let kindKey = Key("kind")
        let kind = try c.decode(String.self, forKey: kindKey)
        let allowed: [String]
        switch kind {
        case "exact": allowed = ["kind", "answer"]
        case "json_key": allowed = ["kind", "key", "value"]
        case "ends_with": allowed = ["kind", "phrase", "body"]
        case "all_caps": allowed = ["kind", "answer"]
        case "bullets": allowed = ["kind", "items"]
        case "quoted": allowed = ["kind", "text"]
        default:
            throw DecodingError.dataCorruptedError(
                forKey: kindKey, in: c,
                debugDescription: "unknown check kind \"\(kind)\"; expected one of \(SynthCheck.kinds.joined(separator: ", "))")
        }
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: c,
                debugDescription: "unknown field for a \(kind) check; allowed: \(allowed.joined(separator: ", "))")
        }
        func nonEmpty(_ name: String) throws -> String {
            let value = try c.decode(String.self, forKey: Key(name))
            if value.isEmpty {
                throw DecodingError.dataCorruptedError(
                    forKey: Key(name), in: c, debugDescription: "must not be empty (an empty \(name) would accept anything)")
            }
            return value
        }
        switch kind {
        case "exact":
            self = .exact(answer: try c.decode(String.self, forKey: Key("answer")))
        case "json_key":
            self = .jsonKey(key: try nonEmpty("key"), value: try c.decodeIfPresent(String.self, forKey: Key("value")))
        case "ends_with":
            self = .endsWith(phrase: try nonEmpty("phrase"), body: try c.decodeIfPresent(String.self, forKey: Key("body")))
        case "bullets":
            let items = try c.decode([String].self, forKey: Key("items"))
            if items.isEmpty || items.contains(where: \.isEmpty) {
                throw DecodingError.dataCorruptedError(forKey: Key("items"), in: c, debugDescription: "must be a non-empty list of non-empty items")
            }
            self = .bullets(items: items)
        case "quoted":
            self = .quoted(text: try nonEmpty("text"))
        default:  // "all_caps"; other kinds were rejected above.
            let answer = try c.decodeIfPresent(String.self, forKey: Key("answer"))
            if let answer, answer.contains(where: { $0.isLowercase }) {
                throw DecodingError.dataCorruptedError(
                    forKey: Key("answer"), in: c,
                    debugDescription: "\"\(answer)\" has lowercase letters, so no response could pass an all_caps check")
            }
            self = .allCaps(answer: answer)
        }
    }

    /// Encodes `kind` first, then the case's fields; nil optional fields are left out.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(kind, forKey: Key("kind"))
        switch self {
        case let .exact(answer):
            try c.encode(answer, forKey: Key("answer"))
        case let .jsonKey(key, value):
            try c.encode(key, forKey: Key("key"))
            try c.encodeIfPresent(value, forKey: Key("value"))
        case let .endsWith(phrase, body):
            try c.encode(phrase, forKey: Key("phrase"))
            try c.encodeIfPresent(body, forKey: Key("body"))
        case let .allCaps(answer):
            try c.encodeIfPresent(answer, forKey: Key("answer"))
        case let .bullets(items):
            try c.encode(items, forKey: Key("items"))
        case let .quoted(text):
            try c.encode(text, forKey: Key("text"))
        }
    }
}

/// One example of the synthetic dataset: an Alpaca record (`instruction`, `input`, `output`)
/// plus its `family` and the `check` that verifies a response. `output` is the canonical
/// answer and always passes its own check.
public struct SynthRecord: Codable, Equatable, Sendable {
    /// What to do, in one of the family's phrasings.
    public var instruction: String
    /// What to do it to (a list of numbers or words, a phrase, a word).
    public var input: String
    /// The canonical response.
    public var output: String
    /// The task family.
    public var family: SynthFamily
    /// How to verify any response.
    public var check: SynthCheck

    /// A record from its five fields.
    public init(instruction: String, input: String, output: String, family: SynthFamily, check: SynthCheck) {
        self.instruction = instruction
        self.input = input
        self.output = output
        self.family = family
        self.check = check
    }

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case instruction, input, output, family, check
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes a record, rejecting unknown fields and unknown families with a message that
    /// lists what is allowed.
    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        let known = CodingKeys.allCases.map(\.stringValue)
        for key in all.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !known.contains(key.stringValue) {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: all, debugDescription: "unknown field; a synth record has \(known.joined(separator: ", "))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        instruction = try c.decode(String.self, forKey: .instruction)
        input = try c.decode(String.self, forKey: .input)
        output = try c.decode(String.self, forKey: .output)
        let name = try c.decode(String.self, forKey: .family)
        guard let family = SynthFamily(rawValue: name) else {
            throw DecodingError.dataCorruptedError(
                forKey: .family, in: c,
                debugDescription: "unknown family \"\(name)\"; expected one of \(SynthFamily.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.family = family
        check = try c.decode(SynthCheck.self, forKey: .check)
    }

    /// What must not repeat between the train and held-out splits: instruction and input.
    public var promptKey: String { instruction + "\n" + input }
}
