/// The task families of the synthetic verifiable-instruction dataset. The raw value is the
/// `family` field of each record. Four need computation (`add`, `sort`, `count`, `max`);
/// the others copy or reformat the input under an instruction that says how.
public enum SynthFamily: String, CaseIterable, Codable, Sendable, Comparable {
    /// Add two numbers: `3 + 5` -> `8`.
    case add
    /// Sort numbers ascending: `7 2 9 2` -> `2 2 7 9`.
    case sort
    /// Count the words in a list: `cat sun red` -> `3`.
    case count
    /// The largest number in a list: `4 8 1` -> `8`.
    case max
    /// Reverse the order of words: `cat sun red` -> `red sun cat`.
    case reverse
    /// Rewrite a phrase in capital letters: `the red cat` -> `THE RED CAT`.
    case uppercase
    /// Wrap a word in a JSON object under a named key: `cat` -> `{"name": "cat"}`.
    case jsonKey = "json_key"
    /// Repeat the words and end with a given phrase: `cat sun` -> `cat sun The end.`
    case endsWith = "ends_with"
    /// List the words as bullet points, one per line: `cat sun` -> `* cat\n* sun`. Scored
    /// by IFEval's `detectable_format:number_bullet_lists` and the items.
    case bullets
    /// Repeat the phrase wrapped in double quotation marks: `the red cat` -> `"the red cat"`.
    /// Scored by IFEval's `startend:quotation` and the text inside.
    case quoted

    /// The eight families `instruct data synth` makes by default (the quickstart's).
    public static let core: [SynthFamily] = [.add, .sort, .count, .max, .reverse, .uppercase, .jsonKey, .endsWith]
    /// Output formats an instruct model does not follow by itself, checked with IFEval's
    /// checkers: what instruction tuning teaches a pretrained chat model.
    public static let formats: [SynthFamily] = [.bullets, .quoted]

    /// Orders families as declared (the order of `allCases`), for stable files and tables.
    public static func < (a: SynthFamily, b: SynthFamily) -> Bool {
        let order = SynthFamily.allCases
        return order.firstIndex(of: a)! < order.firstIndex(of: b)!  // Both are cases of allCases.
    }
}

/// The difficulty knobs of the synthetic dataset, with defaults chosen so that a model of
/// 1-5M parameters trained from scratch on a CPU for a few minutes can learn every family
/// (see docs/synth.md, "Learnability"). All ranges are inclusive.
///
/// The options are written into `manifest.json`, so a dataset records how it was made.
public struct SynthOptions: Codable, Equatable, Sendable {
    /// The families to generate, in this order of round-robin. Default: the eight `core` ones.
    public var families: [SynthFamily]

    /// `add`: each of the two addends is drawn from this range. Default 0...9, so there are
    /// 100 sums to learn and every answer is one or two digits.
    public var addendRange: ClosedRange<Int>

    /// `sort` and `max`: each list item is drawn from this range (with repeats). Default 0...9:
    /// single digits, one token each for a byte-level BPE when separated by spaces.
    public var numberRange: ClosedRange<Int>

    /// `sort` and `max`: how many numbers a list holds. Default 3...5.
    public var numberListLength: ClosedRange<Int>

    /// `count`: how many words a list holds, so also the range of answers. Default 2...6
    /// (five possible answers; fewer would let a model score by guessing).
    public var countListLength: ClosedRange<Int>

    /// `reverse` and `ends_with`: how many distinct words a list holds. Default 3...5.
    public var wordListLength: ClosedRange<Int>

    /// `uppercase`: how many words a phrase holds. Default 2...4.
    public var phraseLength: ClosedRange<Int>

    /// How many draws the generator tries for one example before it decides a family has run
    /// out of distinct (instruction, input) pairs and throws `SynthError.exhausted`.
    /// Default 1000.
    public var maxAttemptsPerExample: Int

    /// The defaults described on each property.
    public init(
        families: [SynthFamily] = SynthFamily.core,
        addendRange: ClosedRange<Int> = 0...9,
        numberRange: ClosedRange<Int> = 0...9,
        numberListLength: ClosedRange<Int> = 3...5,
        countListLength: ClosedRange<Int> = 2...6,
        wordListLength: ClosedRange<Int> = 3...5,
        phraseLength: ClosedRange<Int> = 2...4,
        maxAttemptsPerExample: Int = 1000
    ) {
        self.families = families
        self.addendRange = addendRange
        self.numberRange = numberRange
        self.numberListLength = numberListLength
        self.countListLength = countListLength
        self.wordListLength = wordListLength
        self.phraseLength = phraseLength
        self.maxAttemptsPerExample = maxAttemptsPerExample
    }

    /// Throws `SynthError.invalidOptions` naming the first option that cannot work.
    public func validate() throws {
        if families.isEmpty {
            throw SynthError.invalidOptions(field: "families", reason: "at least one family is needed")
        }
        if Set(families).count != families.count {
            throw SynthError.invalidOptions(field: "families", reason: "a family is listed twice")
        }
        let words = SynthVocabulary.words.count
        let checks: [(String, ClosedRange<Int>, ClosedRange<Int>)] = [
            ("addendRange", addendRange, 0...1_000_000),
            ("numberRange", numberRange, 0...1_000_000),
            ("numberListLength", numberListLength, 1...50),
            ("countListLength", countListLength, 1...words),
            ("wordListLength", wordListLength, 1...words),
            ("phraseLength", phraseLength, 1...words),
        ]
        for (name, range, allowed) in checks where !allowed.contains(range.lowerBound) || !allowed.contains(range.upperBound) {
            throw SynthError.invalidOptions(
                field: name,
                reason: "\(range.lowerBound)...\(range.upperBound) is outside \(allowed.lowerBound)...\(allowed.upperBound)")
        }
        if maxAttemptsPerExample < 1 {
            throw SynthError.invalidOptions(field: "maxAttemptsPerExample", reason: "must be at least 1, got \(maxAttemptsPerExample)")
        }
    }
}
