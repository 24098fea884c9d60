import Foundation

/// Draws one example of each family. Every draw comes from the `SynthRandom` passed in, in a
/// fixed order, so an example is a pure function of the generator state and the options.
public enum SynthTasks {
    /// One example of `family`: instruction phrasing, input, canonical output and check.
    public static func example(_ family: SynthFamily, rng: inout SynthRandom, options: SynthOptions) -> SynthRecord {
        let phrasing = rng.pick(SynthVocabulary.phrasings(family))
        switch family {
        case .add:
            let a = rng.int(in: options.addendRange)
            let b = rng.int(in: options.addendRange)
            return exact(family, phrasing, input: "\(a) + \(b)", output: String(a + b))

        case .sort:
            let numbers = numberList(&rng, options)
            return exact(family, phrasing, input: spaced(numbers), output: spaced(numbers.sorted()))

        case .count:
            let words = rng.sample(SynthVocabulary.words, count: rng.int(in: options.countListLength))
            return exact(family, phrasing, input: words.joined(separator: " "), output: String(words.count))

        case .max:
            let numbers = numberList(&rng, options)
            return exact(family, phrasing, input: spaced(numbers), output: String(numbers.max()!))  // numberListLength >= 1 (validated).

        case .reverse:
            let words = rng.sample(SynthVocabulary.words, count: rng.int(in: options.wordListLength))
            return exact(family, phrasing, input: words.joined(separator: " "),
                         output: words.reversed().joined(separator: " "))

        case .uppercase:
            let phrase = rng.sample(SynthVocabulary.words, count: rng.int(in: options.phraseLength)).joined(separator: " ")
            let answer = phrase.uppercased()
            return SynthRecord(instruction: phrasing, input: phrase, output: answer,
                               family: family, check: .allCaps(answer: answer))

        case .jsonKey:
            let key = rng.pick(SynthVocabulary.jsonKeys)
            let word = rng.pick(SynthVocabulary.words)
            let instruction = phrasing.replacingOccurrences(of: "{key}", with: key)
            // Keys and words are plain lowercase ASCII, so no JSON escaping is needed.
            return SynthRecord(instruction: instruction, input: word, output: "{\"\(key)\": \"\(word)\"}",
                               family: family, check: .jsonKey(key: key, value: word))

        case .endsWith:
            let phrase = rng.pick(SynthVocabulary.endPhrases)
            let body = rng.sample(SynthVocabulary.words, count: rng.int(in: options.wordListLength)).joined(separator: " ")
            let instruction = phrasing.replacingOccurrences(of: "{phrase}", with: phrase)
            return SynthRecord(instruction: instruction, input: body, output: body + " " + phrase,
                               family: family, check: .endsWith(phrase: phrase, body: body))

        case .bullets:
            let words = rng.sample(SynthVocabulary.words, count: rng.int(in: options.wordListLength))
            return SynthRecord(instruction: phrasing, input: words.joined(separator: " "),
                               output: words.map { "* " + $0 }.joined(separator: "\n"), family: family, check: .bullets(items: words))

        case .quoted:
            let phrase = rng.sample(SynthVocabulary.words, count: rng.int(in: options.phraseLength)).joined(separator: " ")
            return SynthRecord(instruction: phrasing, input: phrase, output: "\"" + phrase + "\"", family: family,
                               check: .quoted(text: phrase))
        }
    }

    private static func exact(_ family: SynthFamily, _ instruction: String, input: String, output: String) -> SynthRecord {
        SynthRecord(instruction: instruction, input: input, output: output, family: family, check: .exact(answer: output))
    }

    private static func numberList(_ rng: inout SynthRandom, _ options: SynthOptions) -> [Int] {
        let n = rng.int(in: options.numberListLength)
        return (0..<n).map { _ in rng.int(in: options.numberRange) }
    }

    /// Numbers separated by single spaces: `3 1 4`.
    private static func spaced(_ numbers: [Int]) -> String {
        numbers.map(String.init).joined(separator: " ")
    }
}
