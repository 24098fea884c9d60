import Foundation
import Training
import Yams

extension Recipe {
    /// The recipe with every default filled in and every override applied, as a YAML tree
    /// built from the sections' key tables (`finetune:` only for LoRA, so a full fine-tune
    /// resolves without it).
    var resolvedNode: Node {
        var pairs: [(Node, Node)] = [(Node("seed"), .plain(seed)), (Node("tokenizer"), tokenizer.resolved), (Node("data"), data.resolved),
                                     (Node("model"), model.resolved)]
        if finetune.method == .lora { pairs.append((Node("finetune"), finetune.resolved)) }
        pairs += [(Node("training"), training.resolved), (Node("eval"), eval.resolved), (Node("output"), output.resolved)]
        if let preference { pairs.append((Node("preference"), preference.resolved)) }
        return .mapping(Node.Mapping(pairs))
    }

    /// The resolved recipe as YAML that `Recipe.decode` reads back to an equal recipe
    /// (tested). Written to the run directory so a run can always be reproduced from its
    /// own folder.
    public func resolvedYAML() -> String {
        let header = "# Resolved recipe: every default filled in and every override applied.\n# Source: \(file)\n"
        // Serialising a tree of plain scalars, lists and mappings cannot fail; the empty
        // fallback would make the reader report the recipe as missing keys.
        let body = (try? Yams.serialize(node: resolvedNode, width: -1, allowUnicode: true)) ?? ""
        return header + body
    }

    /// A hash of everything that must be equal on every data-parallel rank: every key but the
    /// per-rank ones (`training.threads`), and the prepared data's fingerprint.
    func rankHash(dataFingerprint: String) -> UInt64 {
        let keys = flattened.filter { !$0.perRank }.map { "\($0.key)=\($0.value)" }
        return FNV1a.hash(keys.joined(separator: "\n") + "\u{0}" + dataFingerprint)
    }
}
