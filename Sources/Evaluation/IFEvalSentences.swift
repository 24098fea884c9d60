import Foundation

/// English sentence splitting as NLTK's Punkt (`sent_tokenize`, English model) does it, for
/// IFEval's `length_constraints:number_sentences` and for `word_tokenize`'s first step.
///
/// The algorithm is Punkt's decision procedure (Kiss & Strunk 2006, in NLTK's form): a
/// candidate is every `.`, `?` or `!` followed by one of `)";}]*:@'({[!?` or by whitespace and
/// a token; the word before it, the candidate and what follows are cut into Punkt tokens and
/// annotated in two passes; a candidate ends a sentence when a token of that context is a
/// sentence break and another token follows it; closing quotes and brackets after a break
/// are moved back to the sentence they close.
///
/// First pass: a lone `.`/`?`/`!` is a break; a run of dots is an ellipsis; a word ending in
/// `.` is an abbreviation when the word without the period (or its last `-` part) is in
/// `abbreviations`, otherwise a break. Second pass, on a word ending in `.` and the token
/// after it:
/// - an abbreviation or ellipsis followed by a capitalised frequent sentence starter
///   (`sentenceStarters`) or orthographic starter (`orthographicStarters`) becomes a break;
/// - an initial (`J.`) or a number (`1.`) followed by a lower-case word or punctuation
///   is not a break; an initial followed by a capitalised word that is not a common
///   lower-case English word (a name: `J. Smith`) is not a break either.
///
/// Where this can disagree with NLTK: NLTK's English model also carries orthographic
/// statistics for about 20,000 words (how often each starts a sentence, is capitalised
/// mid-sentence, ...) and 37 collocations. Here the statistics are replaced by one
/// approximation: a capitalised word is an orthographic sentence starter when it is in
/// `orthographicStarters` (`Yes`, `Finally`, `Here`, ...) or has an ordinary English
/// ending (`-tion`, `-ment`, `-ance`, ...); a lower-case word never is one; and "seen in
/// lower case" means one of those, a word of `commonLowercase`, or a single letter. So
/// splits after an abbreviation, ellipsis or initial followed by a capitalised word can
/// differ for words outside those lists (docs/evaluation.md lists the cases).
public enum PunktSentences {
    /// Punkt English abbreviations (the word before the period, lower case). Note that
    /// NLTK's English model does not know `e.g`, `i.e` or `etc`: a period after them breaks.
    static let abbreviations: Set<String> = [
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "gen", "col", "lt", "maj", "adm", "sen", "rep", "reps",
        "messrs", "inc", "co", "corp", "ltd", "bros", "cie", "jan", "feb", "aug", "sep", "sept", "oct", "nov", "dec",
        "wed", "fri", "tues", "ala", "ariz", "calif", "colo", "conn", "fla", "ga", "ill", "kan", "ky", "mich", "minn",
        "nev", "okla", "ore", "pa", "tenn", "va", "vt", "wash", "wis", "vs", "ave", "ft", "mg", "yr", "ok", "ct",
        "chg", "sw", "cos", "a.m", "p.m", "u.s", "u.k", "u.n", "u.s.a", "u.s.s.r", "ph.d", "d.c", "n.y", "m.b.a",
        "n.j", "n.c", "n.d", "n.h", "n.m", "n.v", "s.c", "w.va", "l.a", "a.d", "a.c", "s.a", "b.v", "s.p.a",
        "c", "d", "e", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
    ]

    /// Words that often start a sentence: after an abbreviation or ellipsis, such a word
    /// capitalised makes the period a sentence break (Punkt's English sentence starters).
    static let sentenceStarters: Set<String> = [
        "according", "although", "among", "both", "but", "despite", "even", "he", "however", "i", "if", "in",
        "indeed", "instead", "it", "many", "meanwhile", "moreover", "most", "nevertheless", "nonetheless", "nor",
        "sales", "separately", "similarly", "since", "so", "some", "the", "there", "these", "they", "this",
        "though", "thus", "under", "when", "while", "yet",
    ]

    /// Common English words that occur in lower case: a capitalised one after an initial
    /// starts a sentence (`Plan B. Then ...`), any other capitalised word is taken as a name.
    static let commonLowercase: Set<String> = [
        "a", "an", "the", "this", "that", "these", "those", "it", "its", "we", "you", "they", "he", "she", "his",
        "her", "our", "your", "their", "my", "me", "us", "them", "there", "here", "then", "than", "now", "so",
        "and", "or", "but", "if", "when", "while", "after", "before", "because", "since", "as", "at", "by", "for",
        "from", "in", "into", "of", "on", "to", "with", "without", "about", "what", "which", "who", "why", "how",
        "where", "is", "are", "was", "were", "be", "been", "do", "does", "did", "have", "has", "had", "can", "could",
        "will", "would", "should", "may", "might", "must", "not", "no", "yes", "all", "any", "each", "every",
        "some", "many", "most", "more", "other", "another", "such", "one", "two", "three", "first", "second",
        "next", "finally", "also", "however", "therefore", "thus", "still", "yet", "even", "just", "only",
        "please", "thank", "thanks", "let", "see", "note", "today", "tomorrow", "yesterday", "again", "well",
        "good", "great", "new", "old", "very", "much", "both", "either", "neither", "nor", "although", "though",
        "instead", "meanwhile", "moreover", "indeed", "similarly", "overall", "in", "under", "over", "up", "down",
        "overview", "brief", "summary", "background", "history", "use", "time", "key", "main", "final", "example",
        "examples", "types", "benefits", "impact", "role", "symbol", "theme", "themes", "character", "characters",
        "setting", "plot", "body", "point", "points", "step", "steps", "part", "section", "chapter", "method",
        "methods", "results", "result", "data", "model", "plan", "goal", "goals", "idea", "ideas", "list", "table",
        "notes", "tips", "water", "food", "day", "week", "year", "people", "work", "life", "world", "home",
    ]

    /// Common words written in lower case inside a sentence and capitalised only at its
    /// start: capitalised after an abbreviation or `...`, they begin a new sentence
    /// (Punkt's orthographic heuristic, for these words only).
    static let orthographicStarters: Set<String> = [
        "her", "your", "us", "them", "here", "so", "into", "without", "which", "were", "does", "yes", "such", "finally",
        "therefore", "thus", "still", "yet", "please", "thank", "thanks", "note", "tomorrow", "yesterday", "very",
        "either", "neither", "nor", "though", "instead", "moreover", "indeed", "similarly", "overall", "okay", "sorry",
        "absolutely", "certainly", "unfortunately", "furthermore", "otherwise", "sometimes", "always",
    ]

    /// The number of sentences `nltk.sent_tokenize(text)` finds (English model).
    public static func count(_ text: String) -> Int { split(text).count }

    /// The sentences, as `nltk.sent_tokenize(text)` returns them (English model).
    public static func split(_ text: String) -> [String] {
        let s = Array(text.unicodeScalars)
        var slices: [Range<Int>] = []
        var lastBreak = 0
        for (match, nextToken, context) in potentialEndContexts(s) where containsSentenceBreak(context) {
            slices.append(lastBreak..<(match + 1))
            lastBreak = nextToken ?? (match + 1)
        }
        var end = s.count
        while end > 0 && isSpace(s[end - 1]) { end -= 1 }
        slices.append(lastBreak..<max(lastBreak, end))
        // Realign: closing quotes/brackets at the start of a sentence belong to the previous one.
        var out: [String] = []
        var realign = 0
        for (i, slice) in slices.enumerated() {
            let first = min(slice.lowerBound + realign, slice.upperBound)
            let current = first..<slice.upperBound
            guard i + 1 < slices.count else {
                if !current.isEmpty { out.append(string(s, current)) }
                continue
            }
            let next = slices[i + 1]
            if let (kept, matched) = boundaryRealignment(s, next) {
                out.append(string(s, current.lowerBound..<(next.lowerBound + kept)))
                realign = matched
            } else {
                realign = 0
                if !current.isEmpty { out.append(string(s, current)) }
            }
        }
        return out
    }

    private static func string(_ s: [Unicode.Scalar], _ r: Range<Int>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s[r])
        return String(v)
    }

    /// Python's `\s` (Unicode whitespace).
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c.properties.isWhitespace || (c.value >= 0x1C && c.value <= 0x1F)
    }

    /// Punctuation that cannot be inside a word (NLTK's list, curly quotes and guillemets included).
    static let nonWord: Set<Unicode.Scalar> = [")", "\"", ";", "}", "]", "*", ":", "@", "'", "(", "{", "[", "!", "?",
                                               "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}", "\u{AB}", "\u{BB}"]
    static let sentenceEnd: Set<Unicode.Scalar> = [".", "?", "!"]

    /// `_re_boundary_realignment` (`["\')\]}‘’“”«»]+?(?:\s+|(?=--)|$)`, multiline) at the start of
    /// `range`: (length of the match without trailing whitespace, length of the match).
    private static func boundaryRealignment(_ s: [Unicode.Scalar], _ range: Range<Int>) -> (Int, Int)? {
        let closers: Set<Unicode.Scalar> = ["\"", "'", ")", "]", "}", "\u{2018}", "\u{2019}", "\u{201C}", "\u{201D}", "\u{AB}", "\u{BB}"]
        var j = range.lowerBound
        while j < range.upperBound, closers.contains(s[j]) {
            j += 1
            let atEnd = j == range.upperBound || s[j] == "\n"
            if atEnd { return (j - range.lowerBound, j - range.lowerBound) }
            if s[j] == "-", j + 1 < range.upperBound, s[j + 1] == "-" { return (j - range.lowerBound, j - range.lowerBound) }
            if isSpace(s[j]) {
                var k = j
                while k < range.upperBound, isSpace(s[k]) { k += 1 }
                return (j - range.lowerBound, k - range.lowerBound)
            }
        }
        return nil
    }

    /// Punkt's `_match_potential_end_contexts`: (index of the `.?!`, start of the next token
    /// when whitespace follows, decision context text).
    private static func potentialEndContexts(_ s: [Unicode.Scalar]) -> [(Int, Int?, [Unicode.Scalar])] {
        var out: [(Int, Int?, [Unicode.Scalar])] = []
        var previous: (match: Int, next: Int?, afterEnd: Int)?
        var previousSlice = 0..<0
        for i in s.indices where sentenceEnd.contains(s[i]) {
            // The lookahead: one non-word punctuation, or whitespace and a token.
            var nextToken: Int?
            var afterEnd: Int
            if i + 1 < s.count, nonWord.contains(s[i + 1]) {
                afterEnd = i + 2
            } else {
                var j = i + 1
                while j < s.count, isSpace(s[j]) { j += 1 }
                guard j > i + 1, j < s.count else { continue }
                nextToken = j
                while j < s.count, !isSpace(s[j]) { j += 1 }
                afterEnd = j
            }
            // The word before the match: after the last ASCII whitespace since the previous word.
            var lastSpace = 0
            if previousSlice.upperBound < i {
                for k in stride(from: i - 1, through: previousSlice.upperBound, by: -1) where " \t\n\r\u{0B}\u{0C}".unicodeScalars.contains(s[k]) {
                    lastSpace = k - previousSlice.upperBound
                    break
                }
            }
            let wordStart = lastSpace != 0 ? previousSlice.upperBound + lastSpace + 1 : previousSlice.lowerBound
            let wordSlice = wordStart..<i
            if let p = previous, previousSlice.upperBound <= wordSlice.lowerBound {
                out.append((p.match, p.next, Array(s[previousSlice]) + Array(s[p.match..<p.afterEnd])))
            }
            previous = (i, nextToken, afterEnd)
            previousSlice = wordSlice
        }
        if let p = previous {
            out.append((p.match, p.next, Array(s[previousSlice]) + Array(s[p.match..<p.afterEnd])))
        }
        return out
    }

    /// One Punkt token and its first-pass annotation.
    struct Token {
        var text: [Unicode.Scalar]
        var sentenceBreak = false
        var abbreviation = false
        var ellipsis = false

        var periodFinal: Bool { text.last == "." }
        var type: String {
            let lower = String(String.UnicodeScalarView(text)).lowercased()
            return PunktSentences.isNumber(lower) ? "##number##" : lower
        }
        var typeNoPeriod: String {
            let t = type
            return t.count > 1 && t.hasSuffix(".") ? String(t.dropLast()) : t
        }
        var typeNoSentencePeriod: String { sentenceBreak ? typeNoPeriod : type }
        var firstUpper: Bool { text.first?.properties.isUppercase ?? false }
        var firstLower: Bool { text.first?.properties.isLowercase ?? false }
        /// `[^\W\d]\.$`: one letter (or `_`) and a period.
        var isInitial: Bool {
            text.count == 2 && text[1] == "." && (text[0].properties.isAlphabetic || text[0] == "_")
                && text[0].properties.numericType == nil
        }
    }

    /// `^-?[\.,]?\d[\d,\.-]*\.?$`.
    static func isNumber(_ t: String) -> Bool {
        var s = Substring(t)
        if s.first == "-" { s = s.dropFirst() }
        if let f = s.first, f == "." || f == "," { s = s.dropFirst() }
        guard let d = s.first, d.isNumber, d.unicodeScalars.first?.properties.numericType == .decimal else { return false }
        return s.dropFirst().allSatisfy { $0.isNumber || $0 == "," || $0 == "." || $0 == "-" }
    }

    /// Whether a token of `context` is a sentence break with another token after it.
    static func containsSentenceBreak(_ context: [Unicode.Scalar]) -> Bool {
        var tokens: [Token] = []
        for line in context.split(separator: "\n", omittingEmptySubsequences: false) {
            tokens += words(Array(line)).map { Token(text: $0) }
        }
        for i in tokens.indices { firstPass(&tokens[i]) }
        for i in tokens.indices.dropLast() { secondPass(&tokens[i], tokens[i + 1]) }
        var found = false
        for t in tokens {
            if found { return true }
            if t.sentenceBreak { found = true }
        }
        return false
    }

    static func firstPass(_ t: inout Token) {
        let text = t.text
        if text.count == 1, sentenceEnd.contains(text[0]) {
            t.sentenceBreak = true
        } else if text.count >= 2, text.allSatisfy({ $0 == "." }) {
            t.ellipsis = true
        } else if t.periodFinal, !(text.count >= 2 && text[text.count - 2] == ".") {
            let word = String(String.UnicodeScalarView(text.dropLast())).lowercased()
            if abbreviations.contains(word) || abbreviations.contains(String(word.split(separator: "-", omittingEmptySubsequences: false).last ?? "")) {
                t.abbreviation = true
            } else {
                t.sentenceBreak = true
            }
        }
    }

    /// Stand-in for "the model has seen this type in lower case": a common English word,
    /// or a single letter (`A. B.` splits after `A.`, `J. R. R.` does not: `R.` is an abbreviation).
    static func seenInLowercase(_ type: String) -> Bool {
        commonLowercase.contains(type) || orthographicStarters.contains(type) || (type.count == 1 && type.first?.isLetter == true)
            || hasOrdinarySuffix(type)
    }

    static func hasOrdinarySuffix(_ type: String) -> Bool {
        type.count > 5 && ordinarySuffixes.contains { type.hasSuffix($0) }
    }

    /// Endings of ordinary English nouns and adjectives, rare in names and rarely capitalised
    /// mid-sentence: `A. Introduction` and `8-12 reps. Endurance` start a sentence where
    /// `J. Smith` and `Dr. Watson` do not.
    static let ordinarySuffixes = ["tion", "sion", "ment", "ness", "ity", "ing", "ism", "ance", "ence", "ship", "ology",
                                   "able", "ible", "ous", "ive", "ful", "less", "ical", "ally", "ies"]

    enum Starter { case yes, no, unknown }

    /// Punkt's orthographic heuristic with the approximation described on the type.
    static func orthographicStarter(_ t: Token) -> Starter {
        if t.text.count == 1, ";:,.!?".unicodeScalars.contains(t.text[0]) { return .no }
        if t.firstLower { return .no }
        let type = t.typeNoSentencePeriod
        if t.firstUpper && (orthographicStarters.contains(type) || hasOrdinarySuffix(type)) { return .yes }
        return .unknown
    }

    static func secondPass(_ t: inout Token, _ next: Token) {
        guard t.periodFinal else { return }
        let nextType = next.typeNoSentencePeriod
        if (t.abbreviation || t.ellipsis) && !t.isInitial {
            if orthographicStarter(next) == .yes || (next.firstUpper && sentenceStarters.contains(nextType)) {
                t.sentenceBreak = true
                return
            }
        }
        if t.isInitial || t.typeNoPeriod == "##number##" {
            let starter = orthographicStarter(next)
            if starter == .no {
                t.sentenceBreak = false
                t.abbreviation = true
                return
            }
            if starter == .unknown && t.isInitial && next.firstUpper && !seenInLowercase(nextType) {
                t.sentenceBreak = false
                t.abbreviation = true
            }
        }
    }

    /// Punkt's word tokenizer (`_re_word_tokenizer.findall`) on one line.
    static func words(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        let notWordStart: Set<Unicode.Scalar> = ["(", "\"", "`", "{", "[", ":", ";", "&", "#", "*", "@", ")", "}", "]", "-", ","]
        var out: [[Unicode.Scalar]] = []
        var i = 0
        while i < s.count {
            if isSpace(s[i]) { i += 1; continue }
            if let n = multiChar(s, i) {
                out.append(Array(s[i..<(i + n)]))
                i += n
                continue
            }
            if !notWordStart.contains(s[i]) {
                var j = i + 1
                while j < s.count {
                    let c = s[j]
                    if isSpace(c) || nonWord.contains(c) || multiChar(s, j) != nil { break }
                    if c == ",", j + 1 == s.count || isSpace(s[j + 1]) || nonWord.contains(s[j + 1]) || multiChar(s, j + 1) != nil { break }
                    j += 1
                }
                out.append(Array(s[i..<j]))
                i = j
                continue
            }
            out.append([s[i]])
            i += 1
        }
        return out
    }

    /// Length of `\-{2,}|\.{2,}|(?:\.\s){2,}\.` at `i`, if it matches.
    static func multiChar(_ s: [Unicode.Scalar], _ i: Int) -> Int? {
        guard i + 1 < s.count else { return nil }
        for mark in ["-", "."] as [Unicode.Scalar] where s[i] == mark && s[i + 1] == mark {
            var j = i
            while j < s.count, s[j] == mark { j += 1 }
            return j - i
        }
        guard s[i] == "." else { return nil }
        var reps = 0
        while i + 2 * reps + 1 < s.count, s[i + 2 * reps] == ".", isSpace(s[i + 2 * reps + 1]) { reps += 1 }
        if reps >= 2, i + 2 * reps < s.count, s[i + 2 * reps] == "." { return 2 * reps + 1 }
        if reps >= 3 { return 2 * reps - 1 }
        return nil
    }
}
