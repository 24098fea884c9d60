import Datasets
import Foundation
import Tokenizers

/// Preference pairs from verifiable records: the canonical answer is "chosen", a near miss
/// "rejected" (`instruct data synth --preference`). A near miss is the right answer perturbed
/// the way a small model gets it wrong: a number off by one, two items in the wrong order,
/// one word changed, one letter in lower case, the end phrase or the key changed, the quotes
/// or a bullet dropped. Every near miss is checked to fail the record's own check.
public enum SynthNearMiss {
    /// A wrong answer close to `record.output`, drawn from `rng`; nil when no perturbation of
    /// this record fails its check (a one-word answer to reverse, say).
    public static func rejected(for record: SynthRecord, rng: inout SynthRandom) -> String? {
        for _ in 0..<4 {
            let candidate = perturb(record, rng: &rng)
            if let c = candidate, c != record.output, !SynthChecker.score(record, response: c) { return c }
        }
        return nil
    }

    static func perturb(_ r: SynthRecord, rng: inout SynthRandom) -> String? {
        let out = r.output
        switch r.family {
        case .add, .count, .max:
            guard let n = Int(out) else { return nil }
            return String(n + (rng.below(2) == 0 ? 1 : -1))
        case .sort, .reverse:
            var items = out.split(separator: " ").map(String.init)
            guard items.count >= 2 else { return nil }
            let i = rng.below(items.count - 1)
            if items[i] == items[i + 1] { return nil }
            items.swapAt(i, i + 1)
            return items.joined(separator: " ")
        case .uppercase:
            var chars = Array(out)
            let letters = chars.indices.filter { chars[$0].isLetter }
            guard !letters.isEmpty else { return nil }
            let i = letters[rng.below(letters.count)]
            chars[i] = Character(chars[i].lowercased())
            return String(chars)
        case .jsonKey, .endsWith, .quoted:
            // One word changed: a word of the vocabulary in place of one of the answer's words.
            var words = out.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard !words.isEmpty else { return nil }
            let i = rng.below(words.count)
            let replacement = SynthVocabulary.words[rng.below(SynthVocabulary.words.count)]
            let w = words[i]
            // Keep the punctuation around the word (quotes, braces, the final period).
            let core = w.trimmingCharacters(in: .punctuationCharacters)
            guard !core.isEmpty, core != replacement else { return nil }
            words[i] = w.replacingOccurrences(of: core, with: replacement)
            return words.joined(separator: " ")
        case .bullets:
            var lines = out.split(separator: "\n").map(String.init)
            guard lines.count >= 2 else { return nil }
            lines.remove(at: rng.below(lines.count))
            return lines.joined(separator: "\n")
        }
    }

    /// One preference line per record that has a near miss: `{"prompt", "input", "chosen",
    /// "rejected", "family"}` (the prompt and input as the SFT records render them), in record
    /// order. Deterministic for a seed.
    public static func encodeJSONL(_ records: [SynthRecord], seed: UInt64) -> (data: Data, pairs: Int) {
        var rng = SynthRandom(seed: seed ^ 0x9E37_79B9_7F4A_7C15)
        var out = ""
        var pairs = 0
        for r in records {
            guard let rejected = rejected(for: r, rng: &rng) else { continue }
            out += "{\"prompt\":" + JSONText.quoted(r.instruction) + ",\"input\":" + JSONText.quoted(r.input)
                + ",\"chosen\":" + JSONText.quoted(r.output) + ",\"rejected\":" + JSONText.quoted(rejected)
                + ",\"family\":" + JSONText.quoted(r.family.rawValue) + "}\n"
            pairs += 1
        }
        return (Data(out.utf8), pairs)
    }
}
