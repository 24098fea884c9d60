import Datasets
import Foundation

/// The IFEval instruction checkers, one per instruction id, following Google's
/// `instruction_following_eval/instructions.py` (see `datasets/ifeval/NOTES.md` in the shared
/// notes). Python's `re` patterns are run with `NSRegularExpression`, which agrees with them
/// for every pattern used here (ASCII classes, `\w`/`\b`/`\s` Unicode-aware in both).
///
/// Five checkers need NLTK or langdetect in the reference; they use Swift stand-ins whose
/// differences are documented on each: `PunktSentences` (NLTK's punkt `sent_tokenize`),
/// `TreebankWords` (`word_tokenize`), `PythonCase` (`str.isupper` / `str.islower`) and
/// `LanguageDetector` (`langdetect.detect`).
public struct IFEvalChecker {
    /// The instruction id, `group:name`.
    public let id: String
    private let check: (String) -> Bool

    /// The 25 ids of Google's registry, sorted; every one has a checker.
    public static let supportedIDs: [String] = [
        "change_case:capital_word_frequency", "change_case:english_capital", "change_case:english_lowercase",
        "combination:repeat_prompt", "combination:two_responses",
        "detectable_content:number_placeholders", "detectable_content:postscript",
        "detectable_format:constrained_response", "detectable_format:json_format",
        "detectable_format:multiple_sections", "detectable_format:number_bullet_lists",
        "detectable_format:number_highlighted_sections", "detectable_format:title",
        "keywords:existence", "keywords:forbidden_words", "keywords:frequency", "keywords:letter_frequency",
        "language:response_language",
        "length_constraints:nth_paragraph_first_word", "length_constraints:number_paragraphs",
        "length_constraints:number_sentences", "length_constraints:number_words",
        "punctuation:no_comma",
        "startend:end_checker", "startend:quotation",
    ]

    /// Whether `response` follows the instruction.
    public func callAsFunction(_ response: String) -> Bool { check(response) }

    /// The checker for `id` with its `kwargs` (as in `input_data.jsonl`) and the row's prompt.
    /// Throws `IFEvalError.unknownInstruction` for an id outside Google's registry (with the
    /// closest known id) and `IFEvalError.badKwargs` when a needed argument is missing or of
    /// the wrong type.
    public static func make(id: String, kwargs: [String: Any], prompt: String) throws -> IFEvalChecker {
        func string(_ key: String) throws -> String {
            guard let v = kwargs[key] as? String else { throw IFEvalError.badKwargs(id: id, key: key, reason: "needs a string") }
            return v
        }
        func int(_ key: String) throws -> Int {
            if let v = kwargs[key] as? Int { return v }
            if let v = kwargs[key] as? Double, v == v.rounded() { return Int(v) }
            throw IFEvalError.badKwargs(id: id, key: key, reason: "needs an integer")
        }
        func strings(_ key: String) throws -> [String] {
            guard let v = kwargs[key] as? [String] else { throw IFEvalError.badKwargs(id: id, key: key, reason: "needs a list of strings") }
            return v
        }
        func relation(_ key: String) throws -> (Int, Int) -> Bool {
            switch try string(key) {
            case "less than": return { $0 < $1 }
            case "at least": return { $0 >= $1 }
            case let other: throw IFEvalError.badKwargs(id: id, key: key, reason: "must be \"less than\" or \"at least\", got \"\(other)\"")
            }
        }
        let c: (String) -> Bool
        switch id {
        case "keywords:existence":
            let keywords = try strings("keywords").map { PyRegex($0, caseInsensitive: true) }
            c = { v in keywords.allSatisfy { $0.matches(v) } }
        case "keywords:frequency":
            let keyword = PyRegex(try string("keyword"), caseInsensitive: true)
            let n = try int("frequency"), rel = try relation("relation")
            c = { v in rel(keyword.count(v), n) }
        case "keywords:forbidden_words":
            let words = try strings("forbidden_words").map { PyRegex("\\b" + $0 + "\\b", caseInsensitive: true) }
            c = { v in !words.contains { $0.matches(v) } }
        case "keywords:letter_frequency":
            let letter = try string("letter").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            let n = try int("let_frequency"), rel = try relation("let_relation")
            c = { v in rel(v.lowercased().filter { String($0) == letter }.count, n) }
        case "length_constraints:number_paragraphs":
            let n = try int("num_paragraphs")
            let divider = PyRegex("\\s?\\*\\*\\*\\s?")
            c = { v in
                let pieces = divider.split(v)
                var count = pieces.count
                for (i, p) in pieces.enumerated() where strip(p).isEmpty {
                    if i == 0 || i == pieces.count - 1 { count -= 1 } else { return false }
                }
                return count == n
            }
        case "length_constraints:number_words":
            let n = try int("num_words"), rel = try relation("relation")
            let word = PyRegex("\\w+")
            c = { v in rel(word.count(v), n) }
        case "length_constraints:nth_paragraph_first_word":
            let n = try int("num_paragraphs"), nth = try int("nth_paragraph")
            let first = try string("first_word").lowercased()
            c = { v in
                let paragraphs = v.components(separatedBy: "\n\n")
                let count = paragraphs.filter { !strip($0).isEmpty }.count
                guard nth >= 1, nth <= count else { return false }
                let paragraph = strip(paragraphs[nth - 1])
                guard let word0 = paragraph.split(whereSeparator: { $0.isWhitespace }).first else { return false }
                var word = Substring(strip(String(word0)))
                while word.first == "'" { word = word.dropFirst() }
                while word.first == "\"" { word = word.dropFirst() }
                var found = ""
                for ch in word {
                    if ".,?!'\"".contains(ch) { break }
                    found += ch.lowercased()
                }
                return count == n && found == first
            }
        case "detectable_content:number_placeholders":
            let n = try int("num_placeholders")
            let placeholder = PyRegex("\\[.*?\\]")
            c = { v in placeholder.count(v) >= n }
        case "detectable_content:postscript":
            let marker = try string("postscript_marker")
            let pattern: String
            switch marker {
            case "P.P.S": pattern = "\\s*p\\.\\s?p\\.\\s?s.*$"
            case "P.S.": pattern = "\\s*p\\.\\s?s\\..*$"
            default: pattern = "\\s*" + marker.lowercased() + ".*$"
            }
            let r = PyRegex(pattern, multiline: true)
            c = { v in r.matches(v.lowercased()) }
        case "detectable_format:number_bullet_lists":
            let n = try int("num_bullets")
            let star = PyRegex("^\\s*\\*[^\\*].*$", multiline: true), dash = PyRegex("^\\s*-.*$", multiline: true)
            c = { v in star.count(v) + dash.count(v) == n }
        case "detectable_format:constrained_response":
            c = { v in
                let s = strip(v)
                return ["My answer is yes.", "My answer is no.", "My answer is maybe."].contains { s.contains($0) }
            }
        case "detectable_format:number_highlighted_sections":
            let n = try int("num_highlights")
            let single = PyRegex("\\*[^\\n\\*]*\\*"), double = PyRegex("\\*\\*[^\\n\\*]*\\*\\*")
            c = { v in
                var count = single.all(v).filter { !strip($0.trimmingCharacters(in: CharacterSet(charactersIn: "*"))).isEmpty }.count
                count += double.all(v).filter { !strip(String($0.dropFirst(2).dropLast(2))).isEmpty }.count
                return count >= n
            }
        case "detectable_format:multiple_sections":
            let splitter = try string("section_spliter"), n = try int("num_sections")
            let r = PyRegex("\\s?" + splitter + "\\s?\\d+\\s?")
            c = { v in r.split(v).count - 1 >= n }
        case "detectable_format:json_format":
            c = { v in
                var s = Substring(strip(v))
                for prefix in ["```json", "```Json", "```JSON", "```"] where s.hasPrefix(prefix) {
                    s = s.dropFirst(prefix.count)
                    break
                }
                if s.hasSuffix("```") { s = s.dropLast(3) }
                let text = strip(String(s))
                return PythonJSON.isValid(text)
            }
        case "detectable_format:title":
            let r = PyRegex("<<[^\\n]+>>")
            c = { v in
                r.all(v).contains { t in
                    !strip(String(t.drop { $0 == "<" }.reversed().drop { $0 == ">" }.reversed())).isEmpty
                }
            }
        case "combination:two_responses":
            c = { v in
                let parts = v.components(separatedBy: "******")
                var valid: [String] = []
                for (i, p) in parts.enumerated() {
                    if strip(p).isEmpty {
                        if i != 0 && i != parts.count - 1 { return false }
                    } else {
                        valid.append(p)
                    }
                }
                return valid.count == 2 && strip(valid[0]) != strip(valid[1])
            }
        case "combination:repeat_prompt":
            let repeated = strip((kwargs["prompt_to_repeat"] as? String) ?? prompt).lowercased()
            c = { v in strip(v).lowercased().hasPrefix(repeated) }
        case "startend:end_checker":
            let phrase = strip(try string("end_phrase")).lowercased()
            c = { v in
                var s = Substring(strip(v))
                while s.first == "\"" { s = s.dropFirst() }
                while s.last == "\"" { s = s.dropLast() }
                return s.lowercased().hasSuffix(phrase)
            }
        case "startend:quotation":
            c = { v in
                let s = strip(v)
                return s.count > 1 && s.first == "\"" && s.last == "\""
            }
        case "punctuation:no_comma":
            c = { v in !v.contains(",") }
        case "length_constraints:number_sentences":
            let n = try int("num_sentences"), rel = try relation("relation")
            c = { v in rel(PunktSentences.count(v), n) }
        case "change_case:capital_word_frequency":
            let n = try int("capital_frequency"), rel = try relation("capital_relation")
            c = { v in rel(TreebankWords.tokenize(v).filter(PythonCase.isUpper).count, n) }
        case "change_case:english_capital":
            // langdetect raising (no letters) counts as a pass, as in the reference.
            c = { v in PythonCase.isUpper(v) && (LanguageDetector.detect(v) ?? "en") == "en" }
        case "change_case:english_lowercase":
            c = { v in PythonCase.isLower(v) && (LanguageDetector.detect(v) ?? "en") == "en" }
        case "language:response_language":
            let language = try string("language")
            c = { v in LanguageDetector.detect(v).map { $0 == language } ?? true }
        default:
            throw IFEvalError.unknownInstruction(id: id, suggestion: closest(to: id, in: supportedIDs))
        }
        return IFEvalChecker(id: id, check: c)
    }
}

/// Python's `str.strip()`: leading and trailing whitespace removed.
func strip(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }

/// A compiled pattern with Python `re`-like helpers. An invalid pattern (a keyword with
/// regex syntax errors) matches nothing, where Python would raise.
struct PyRegex {
    let regex: NSRegularExpression?

    init(_ pattern: String, caseInsensitive: Bool = false, multiline: Bool = false) {
        var options: NSRegularExpression.Options = []
        if caseInsensitive { options.insert(.caseInsensitive) }
        if multiline { options.insert(.anchorsMatchLines) }
        regex = try? NSRegularExpression(pattern: pattern, options: options)
    }

    private func ranges(_ s: String) -> [NSRange] {
        guard let regex else { return [] }
        return regex.matches(in: s, range: NSRange(s.startIndex..., in: s)).map(\.range)
    }

    /// `re.search(...) is not None`.
    func matches(_ s: String) -> Bool {
        guard let regex else { return false }
        return regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }

    /// `len(re.findall(...))`.
    func count(_ s: String) -> Int { ranges(s).count }

    /// The matched substrings (`re.findall` without groups).
    func all(_ s: String) -> [String] {
        ranges(s).compactMap { Range($0, in: s).map { String(s[$0]) } }
    }

    /// `re.split(...)` (pattern without groups).
    func split(_ s: String) -> [String] {
        var out: [String] = []
        var start = s.startIndex
        for r in ranges(s) {
            guard let range = Range(r, in: s) else { continue }
            out.append(String(s[start..<range.lowerBound]))
            start = range.upperBound
        }
        out.append(String(s[start...]))
        return out
    }
}
