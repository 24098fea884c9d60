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

/// Verifies responses against the `check` of a synthetic record. Strict but fair: whitespace
/// and newlines around the response are ignored; everything else must match exactly (case,
/// punctuation, spacing between items). See `SynthCheck` for what each kind requires.
public enum SynthChecker {
    /// True when `response` satisfies `record.check`.
    public static func score(_ record: SynthRecord, response: String) -> Bool {
        verify(record.check, response: response).passed
    }

    /// Checks `response` against `check` and says why it failed.
    public static func verify(_ check: SynthCheck, response: String) -> SynthVerdict {
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
        }
    }

    /// JSONSerialization bridges numbers and booleans to NSNumber, and on some platforms an
    /// NSNumber or NSString bridges loosely; only a real string counts as a JSON string here.
    private static func isJSONString(_ value: Any) -> Bool {
        !(value is NSNumber) && (value is String || value is NSString)
    }
}
