import Foundation

/// The outcome of checking one response: whether it passed and, if not, why.
public struct SynthVerdict: Equatable, Sendable {
    /// True when the response satisfies the check.
    public var passed: Bool
    /// Why the response failed (nil when it passed), e.g. `has lowercase letters`.
    public var reason: String?

    /// A passing verdict.
    public static let pass = SynthVerdict(passed: true, reason: nil)

    /// A failing verdict with its reason.
    public static func fail(_ reason: String) -> SynthVerdict { SynthVerdict(passed: false, reason: reason) }
}

/// The format checks of the `bullets` and `quoted` families: IFEval's checkers, which live in
/// `Evaluation` (above this target); it passes them in as this.
public protocol SynthFormats: Sendable {
    /// Whether `response` follows IFEval's `instruction` (`detectable_format:number_bullet_lists`,
    /// `startend:quotation`) with `kwargs`.
    func follows(_ instruction: String, kwargs: [String: Any], response: String) -> Bool
}

/// No format checker: `bullets` and `quoted` responses fail, saying so. For callers that score
/// only the core families.
public struct NoSynthFormats: SynthFormats {
    public init() {}
    public func follows(_ instruction: String, kwargs: [String: Any], response: String) -> Bool { false }
}

/// Verifies responses against the `check` of a synthetic record. Strict but fair: whitespace
/// and newlines around the response are ignored; everything else must match exactly (case,
/// punctuation, spacing between items). See `SynthCheck` for what each kind requires.
public enum SynthChecker {
    /// True when `response` satisfies `record.check`.
    public static func score(_ record: SynthRecord, response: String, formats: any SynthFormats = NoSynthFormats()) -> Bool {
        verify(record.check, response: response, formats: formats).passed
    }

    /// Checks `response` against `check` and says why it failed. `formats` checks the format
    /// of `bullets` and `quoted` responses (IFEval's checkers, from `Evaluation`).
    public static func verify(_ check: SynthCheck, response: String, formats: any SynthFormats = NoSynthFormats()) -> SynthVerdict {
        let text = response.trimmingCharacters(in: .whitespacesAndNewlines)
        switch check {
        case let .exact(answer):
            return text == answer ? .pass : .fail("expected \"\(answer)\"")

        case let .jsonKey(key, value):
            guard text.hasPrefix("{"), let data = text.data(using: .utf8),
                  let parsed = try? JSONSerialization.jsonObject(with: data),
                  let object = parsed as? [String: Any]
            else { return .fail("not a single JSON object") }
            guard let member = object[key] else { return .fail("no key \"\(key)\"") }
            guard let value else { return .pass }
            guard let string = member as? String, isJSONString(member) else {
                return .fail("the value of \"\(key)\" is not a JSON string")
            }
            return string == value ? .pass : .fail("the value of \"\(key)\" is \"\(string)\", expected \"\(value)\"")

        case let .endsWith(phrase, body):
            guard text.hasSuffix(phrase) else { return .fail("does not end with \"\(phrase)\"") }
            guard let body else { return .pass }
            let before = String(text.dropLast(phrase.count)).trimmingCharacters(in: .whitespacesAndNewlines)
            return before == body ? .pass : .fail("the text before \"\(phrase)\" should be \"\(body)\"")

        case let .allCaps(answer):
            guard text.contains(where: { $0.isLetter }) else { return .fail("has no letters") }
            if text.contains(where: { $0.isLowercase }) { return .fail("has lowercase letters") }
            guard let answer else { return .pass }
            return text == answer ? .pass : .fail("expected \"\(answer)\"")

        case let .bullets(items):
            guard formats.follows("detectable_format:number_bullet_lists", kwargs: ["num_bullets": items.count], response: response) else {
                return .fail("not exactly \(items.count) bullet points (IFEval detectable_format:number_bullet_lists)")
            }
            let found = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("* ") || $0.hasPrefix("- ") }.map { String($0.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
            return found == items ? .pass : .fail("the bullet points should be \(items.joined(separator: ", "))")

        case let .quoted(inner):
            guard formats.follows("startend:quotation", kwargs: [:], response: response) else {
                return .fail("not wrapped in double quotation marks (IFEval startend:quotation)")
            }
            let content = String(text.dropFirst().dropLast()).trimmingCharacters(in: .whitespacesAndNewlines)
            return content == inner ? .pass : .fail("the quoted text should be \"\(inner)\"")
        }
    }

    /// JSONSerialization bridges numbers and booleans to NSNumber, and on some platforms an
    /// NSNumber or NSString bridges loosely; only a real string counts as a JSON string here.
    private static func isJSONString(_ value: Any) -> Bool {
        !(value is NSNumber) && (value is String || value is NSString)
    }
}
