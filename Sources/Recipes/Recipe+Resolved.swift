import Datasets
import Foundation

extension Recipe {
    /// The recipe with every default filled in and every override applied, as YAML that
    /// `Recipe.decode` reads back to an equal recipe (tested). Written to the run directory
    /// so a run can always be reproduced from its own folder.
    public func resolvedYAML() -> String {
        var y = "# Resolved recipe: every default filled in and every override applied.\n"
        y += "# Source: \(file)\n"
        y += "seed: \(seed)\n"
        y += "tokenizer:\n"
        if let path = tokenizer.path { y += "  path: \(q(path))\n" }
        if let t = tokenizer.train {
            y += "  train:\n    vocab_size: \(t.vocabSize)\n    min_frequency: \(t.minFrequency)\n"
            y += "    special_tokens: [\(t.specialTokens.map(q).joined(separator: ", "))]\n"
        }
        y += "data:\n  datasets:\n"
        for d in data.datasets {
            y += "    - path: \(q(d.path))\n      format: \(d.format.rawValue)\n"
            if !d.columns.renames.isEmpty {
                y += "      columns: {\(d.columns.renames.sorted { $0.key < $1.key }.map { "\($0.key): \(q($0.value))" }.joined(separator: ", "))}\n"
            }
            switch d.template {
            case nil: break
            case let .custom(t)?:
                y += "      template: {system: \(q(t.system)), user: \(q(t.user)), assistant: \(q(t.assistant)), eos: \(t.appendEOS)}\n"
            case let t?:
                y += "      template: \(t.name)\n"
            }
            y += "      weight: \(d.weight)\n      split: \(d.validationFraction)\n"
            if let s = d.systemPrompt { y += "      system: \(q(s))\n" }
        }
        y += "  seq_len: \(data.seqLen)\n  packing: \(data.packing.rawValue)\n  length_policy: \(data.lengthPolicy.rawValue)\n"
        y += "  train_on_input: \(data.trainOnInput)\n  train_on: \(data.trainOn.rawValue)\n  on_bad_record: \(data.onBadRecord.rawValue)\n"
        if let s = data.seed { y += "  seed: \(s)\n" }
        y += "  cache_dir: \(data.cacheDir.map(q) ?? "null")\n"
        let m = model
        y += "model:\n  family: \(m.family.rawValue)\n"
        if let v = m.vocabSize { y += "  vocab_size: \(v)\n" }
        if let c = m.contextLength { y += "  context_length: \(c)\n" }
        y += "  dim: \(m.dim)\n  layers: \(m.layers)\n  heads: \(m.heads)\n"
        if let k = m.kvHeads { y += "  kv_heads: \(k)\n" }
        if let f = m.ffnDim { y += "  ffn_dim: \(f)\n" }
        y += "  norm_eps: \(m.normEps)\n  rope_theta: \(m.ropeTheta)\n  tied_embeddings: \(m.tiedEmbeddings)\n  dropout: \(m.dropout)\n"
        if let i = m.initFrom { y += "  init: \(q(i))\n" }
        y += finetune.resolvedYAML
        let o = training.options
        y += "training:\n  batch_size: \(o.microBatchSize)\n  grad_accum: \(o.gradientAccumulation)\n"
        if let s = o.maxSteps { y += "  max_steps: \(s)\n" }
        y += "  epochs: \(o.epochs)\n  lr: \(o.lr)\n  min_lr_ratio: \(o.minLRRatio)\n  schedule: \(o.schedule.rawValue)\n"
        y += "  warmup_steps: \(o.warmupSteps)\n  weight_decay: \(o.weightDecay)\n  beta1: \(o.beta1)\n  beta2: \(o.beta2)\n"
        y += "  eps: \(o.adamEps)\n  grad_clip: \(o.gradClip)\n  log_every: \(o.logEvery)\n  threads: \(o.threads)\n"
        if training.explicitSeed { y += "  seed: \(o.seed)\n" }
        y += "  save_every: \(o.saveEvery)\n"
        if let k = o.keepLast { y += "  keep_last: \(k)\n" }
        if o.syncCheckEvery > 0 { y += "  sync_check_every: \(o.syncCheckEvery)\n" }
        y += "eval:\n  every: \(eval.every)\n  batches: \(eval.batches)\n"
        if let s = eval.synth { y += "  synth: \(q(s))\n" }
        y += "  synth_limit: \(eval.synthLimit)\n  max_new_tokens: \(eval.maxNewTokens)\n"
        if let s = eval.samples {
            switch s.prompts {
            case let .inline(list): y += "  samples:\n    prompts: [\(list.map(q).joined(separator: ", "))]\n"
            case let .file(path): y += "  samples:\n    prompts: \(q(path))\n"
            }
            y += "    max_new_tokens: \(s.maxNewTokens)\n    temperature: \(s.temperature)\n"
        }
        y += "output:\n  dir: \(q(output.dir))\n"
        return y
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
private func q(_ s: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
    let text = String(decoding: data, as: UTF8.self)
    return String(text.dropFirst().dropLast())
}
