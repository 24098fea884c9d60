/// Whether a run may continue from a checkpoint trained with another version of its recipe.
///
/// A resume is exact only if the model, the tokenizer, the data and the random draws are
/// those of the saved run. Refused: every key whose table entry says `mustMatch` (any
/// `model.*` key but `dropout`, any `tokenizer.*` or `finetune.*` key, `training.batch_size`
/// and `training.grad_accum`), the effective seed, and a data fingerprint that differs (the
/// prepared rows are not the same). Every other difference (`training.max_steps`,
/// `eval.every`, `training.log_every`, `training.save_every`, ...) is allowed and reported.
/// Changing `max_steps` or `epochs` rebuilds the LR schedule for the new length, so later
/// steps are not those of the old run; that is what the user asked for.
public enum RecipeResume {
    /// The outcome of comparing the saved and the current recipe.
    public struct Check: Equatable, Sendable {
        /// Differences that make the resume unsafe, one per key, `key: saved -> current`.
        public var refused: [String]
        /// Allowed differences, same form.
        public var changes: [String]
    }

    /// Compares the checkpoint's recipe with the current one key by key (through the
    /// sections' key tables), and the data fingerprints (`DataCursor.dataFingerprint` saved
    /// vs `PreparedData.fingerprint` now).
    public static func compare(saved: Recipe, current: Recipe, savedDataFingerprint: String,
                               currentDataFingerprint: String) -> Check {
        var refused: [String] = [], changes: [String] = []
        let before = Dictionary(saved.flattened.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        for key in current.flattened.sorted(by: { $0.key < $1.key }) where before[key.key] != key.value {
            if key.key == "seed" || key.key == "training.seed" { continue }  // compared as the effective seed below
            let line = "\(key.key): \(before[key.key] ?? "(unset)") -> \(key.value)"
            if key.resume == .mustMatch { refused.append(line) } else { changes.append(line) }
        }
        let s0 = saved.trainingOptions.seed, s1 = current.trainingOptions.seed
        if s0 != s1 { refused.append("seed: \(s0) -> \(s1)") }
        if savedDataFingerprint != currentDataFingerprint {
            refused.append("data fingerprint: \(savedDataFingerprint.prefix(12)) -> \(currentDataFingerprint.prefix(12)) (the prepared training rows differ)")
        }
        return Check(refused: refused, changes: changes)
    }
}
