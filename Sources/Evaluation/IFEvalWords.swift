import Foundation

/// NLTK's `word_tokenize` (English) for IFEval's `change_case:capital_word_frequency`: the text
/// is split into sentences (`PunktSentences`), and each sentence is cut by the substitutions of
/// NLTK's improved Treebank tokenizer (`NLTKWordTokenizer`): quotes, punctuation, brackets,
/// `--`, the final period, clitics (`'s 'm 'd 'll 're 've n't`) and the MacIntyre
/// contractions (`cannot`, `gonna`, `gotta`, `wanna`, ...) become tokens of their own, and
/// the result is split on whitespace. The patterns are NLTK's, run with
/// `NSRegularExpression`, so tokens agree with NLTK wherever the sentences do (and a
/// different sentence split only moves a final period, which does not change whether a
/// token is upper case).
public enum TreebankWords {
    private static func rules(_ list: [(String, String)]) -> [(NSRegularExpression, String)] {
        // The patterns are constants; a typo is a programmer error caught by the tests.
        list.map { (try! NSRegularExpression(pattern: $0.0), $0.1) }
    }

    private static let startingQuotes = rules([
        ("([«“‘„]|[`]+)", " $1 "),
        ("^\"", "``"),
        ("(``)", " $1 "),
        ("([ \\(\\[{<])(\"|'{2})", "$1 `` "),
        ("(?i)(?<!\\w)(')(?!(?:re|ve|ll|m|t|s|d|n)\\b)(?=\\w)", "$1 "),
    ])

    private static let punctuation = rules([
        ("([^\\.])(\\.)([\\]\\)}>\"'»”’ ]*+)\\s*$", "$1 $2 $3 "),
        ("([:,])([^\\d])", " $1 $2"),
        ("([:,])$", " $1 "),
        ("\\.{2,}", " $0 "),
        ("[;@#$%&]", " $0 "),
        ("[\\u2012-\\u2015]", " $0 "),
        ("([^\\.])(\\.)([\\]\\)}>\"']*)\\s*$", "$1 $2$3 "),
        ("[?!]", " $0 "),
        ("([^'])' ", "$1 ' "),
        ("[*]", " $0 "),
        ("[\\]\\[\\(\\)\\{\\}\\<\\>]", " $0 "),
        ("--", " -- "),
    ])

    private static let endingQuotes = rules([
        ("([»”’])", " $1 "),
        ("''", " '' "),
        ("\"", " '' "),
        ("\\s+", " "),
        ("([^' ])('[sS]|'[mM]|'[dD]|') ", "$1 $2 "),
        ("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ", "$1 $2 "),
        ("(?i)\\b(can)(not)\\b", " $1 $2 "),
        ("(?i)\\b(d)('ye)\\b", " $1 $2 "),
        ("(?i)\\b(gim)(me)\\b", " $1 $2 "),
        ("(?i)\\b(gon)(na)\\b", " $1 $2 "),
        ("(?i)\\b(got)(ta)\\b", " $1 $2 "),
        ("(?i)\\b(lem)(me)\\b", " $1 $2 "),
        ("(?i)\\b(more)('n)\\b", " $1 $2 "),
        ("(?i)\\b(wan)(na)(?=\\s)", " $1 $2 "),
        ("(?i) ('t)(is)\\b", " $1 $2 "),
        ("(?i) ('t)(was)\\b", " $1 $2 "),
    ])

    /// `nltk.word_tokenize(text)`.
    public static func tokenize(_ text: String) -> [String] {
        PunktSentences.split(text).flatMap(tokenizeSentence)
    }

    /// `NLTKWordTokenizer().tokenize(sentence)`.
    public static func tokenizeSentence(_ sentence: String) -> [String] {
        var text = sentence
        func apply(_ list: [(NSRegularExpression, String)]) {
            for (r, template) in list {
                text = r.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: template)
            }
        }
        apply(startingQuotes)
        apply(punctuation)
        text = " " + text + " "
        apply(endingQuotes)
        return text.split(whereSeparator: { $0.unicodeScalars.allSatisfy(PunktSentences.isSpace) }).map(String.init)
    }
}

/// Python's `str.isupper()` / `str.islower()`: at least one cased character, and every cased
/// character upper case (lower case); title-case letters make both false.
public enum PythonCase {
    /// `s.isupper()`.
    public static func isUpper(_ s: String) -> Bool { check(s, wantUpper: true) }
    /// `s.islower()`.
    public static func isLower(_ s: String) -> Bool { check(s, wantUpper: false) }

    private static func check(_ s: String, wantUpper: Bool) -> Bool {
        var cased = false
        for c in s.unicodeScalars {
            let p = c.properties
            if p.generalCategory == .titlecaseLetter { return false }
            if p.isUppercase {
                if !wantUpper { return false }
                cased = true
            } else if p.isLowercase {
                if wantUpper { return false }
                cased = true
            }
        }
        return cased
    }
}
