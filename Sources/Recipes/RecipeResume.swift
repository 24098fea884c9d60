import Foundation

/// Whether a run may continue from a checkpoint trained with another version of its recipe.
///
/// A resume is exact only if the model, the tokenizer, the data and the random draws are
/// those of the saved run. Refused: any `model.*` key but `dropout`, any `tokenizer.*` or
/// `finetune.*` key (LoRA or not, its rank, alpha, dropout and targets),
/// the effective seed, `training.batch_size` and `training.grad_accum` (they change what a
/// step and the data cursor mean), and a data fingerprint that differs (the prepared rows
/// are not the same). Every other difference (`training.max_steps`, `eval.every`,
/// `training.log_every`, `training.save_every`, ...) is allowed and reported. Changing
/// `max_steps` or `epochs` rebuilds the LR schedule for the new length, so later steps are
/// not those of the old run; that is what the user asked for.
public enum RecipeResume {
    /// The outcome of comparing the saved and the current recipe.
    public struct Check: Equatable, Sendable {
        /// Differences that make the resume unsafe, one per key, `key: saved -> current`.
        public var refused: [String]
        /// Allowed differences, same form.
        public var changes: [String]
    }

    /// Compares the checkpoint's recipe with the current one, and the data fingerprints
    /// (`DataCursor.dataFingerprint` saved vs `PreparedData.fingerprint` now).
    public static func compare(saved: Recipe, current: Recipe, savedDataFingerprint: String,
                               currentDataFingerprint: String) -> Check {
        let a = keyedLines(saved.resolvedYAML()), b = keyedLines(current.resolvedYAML())
        var refused: [String] = [], changes: [String] = []
        let keys = Set(a.keys).union(b.keys).sorted()
        for key in keys where a[key] != b[key] {
            if key == "seed" || key == "training.seed" { continue }  // compared as the effective seed below
            let line = "\(key): \(a[key] ?? "(unset)") -> \(b[key] ?? "(unset)")"
            let unsafe = (key.hasPrefix("model.") && key != "model.dropout") || key.hasPrefix("tokenizer.") || key.hasPrefix("finetune")
                || key == "training.batch_size" || key == "training.grad_accum"
            if unsafe { refused.append(line) } else { changes.append(line) }
        }
        let s0 = saved.trainingOptions.seed, s1 = current.trainingOptions.seed
        if s0 != s1 { refused.append("seed: \(s0) -> \(s1)") }
        if savedDataFingerprint != currentDataFingerprint {
            refused.append("data fingerprint: \(savedDataFingerprint.prefix(12)) -> \(currentDataFingerprint.prefix(12)) (the prepared training rows differ)")
        }
        return Check(refused: refused, changes: changes)
    }

    /// `section.key -> value` from resolved YAML. Deeper lines (dataset entries, the
    /// tokenizer's `train:` block) are folded into their depth-one key's value.
    static func keyedLines(_ yaml: String) -> [String: String] {
        var out: [String: String] = [:]
        var section = "", current = ""
        for raw in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("#") { continue }
            let indent = line.prefix { $0 == " " }.count
            let body = line.trimmingCharacters(in: .whitespaces)
            if body.isEmpty { continue }
            let parts = body.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if indent == 0 {
                section = parts[0]
                current = section
                if parts.count > 1 && !parts[1].isEmpty { out[section] = parts[1] }
            } else if indent == 2 {
                current = section + "." + parts[0]
                out[current] = parts.count > 1 ? parts[1] : ""
            } else {
                out[current, default: ""] += (out[current]?.isEmpty ?? true ? "" : " ") + body
            }
        }
        return out
    }
}
