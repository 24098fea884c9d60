// Fine-tune a small model from Swift: write a dataset, describe the run as a recipe, train
// (keeping the checkpoint with the best validation loss), then answer a prompt with it.
//
//   swift run -c release finetune-example [OUTPUT_DIR] [STEPS]
//
// The task is reversing the order of a few words: easy to check, learnt in a few hundred
// steps. Everything below is InstructKit's public API: Recipe (Recipes), TrainingEvent and
// RunSummary (Training), LoadedModel (Inference), RecordContent (Datasets).
import Datasets
import Foundation
import Inference
import Recipes
import Training

let arguments = CommandLine.arguments.dropFirst()
let output = URL(fileURLWithPath: arguments.first ?? "finetune-example-run").standardizedFileURL
let steps = arguments.dropFirst().first.flatMap { Int($0) } ?? 300

// 1. Data: one Alpaca record per line (instruction, input, output).
let words = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird", "star", "rock"]
struct LCG {  // a small generator, so the data is the same on every run
    var state: UInt64 = 42
    mutating func next(_ n: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(n))
    }
}
var rng = LCG()
var lines: [String] = []
for _ in 0..<2000 {
    let count = 3 + rng.next(3)
    var picked: [String] = []
    for _ in 0..<count { picked.append(words[rng.next(words.count)]) }
    let record: [String: String] = ["instruction": "Reverse the order of the words.", "input": picked.joined(separator: " "),
                                    "output": picked.reversed().joined(separator: " ")]
    let json = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
    lines.append(String(decoding: json, as: UTF8.self))
}
try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
let dataFile = output.appendingPathComponent("reverse.jsonl")
try (lines.joined(separator: "\n") + "\n").write(to: dataFile, atomically: true, encoding: .utf8)

// 2. The run, as a recipe: the same keys as a recipe file (docs/ARCHITECTURE.md), checked the same way.
let recipe = try Recipe.decode(yaml: """
    seed: 1
    tokenizer:
      train: {vocab_size: 300}
    data:
      datasets:
        - {path: "\(dataFile.path)", template: plain, split: 0.05}
      seq_len: 64
      cache_dir: null
    model: {family: llama, dim: 64, layers: 2, heads: 4, kv_heads: 2}
    training:
      batch_size: 16
      max_steps: \(steps)
      lr: 3e-3
      warmup_steps: 10
      log_every: 10
      keep_best: true
      keep_last: 1
      threads: 2
    eval: {every: \(max(steps / 5, 1))}
    output: {dir: "\(output.appendingPathComponent("run").path)"}
    """, file: "finetune-example")

// 3. Train. Events arrive as the run goes; print what matters.
let summary = try recipe.run(events: { event in
    switch event {
    case let .step(m) where m.step % 50 == 0:
        print(String(format: "step %4d  loss %.3f", m.step, m.loss ?? .nan))
    case let .eval(e):
        print(String(format: "step %4d  validation loss %.3f", e.step, e.evalLoss))
    case let .best(step, loss, _):
        print(String(format: "step %4d  best so far (%.3f), kept", step, loss))
    default:
        break
    }
}, report: { print($0) })
print("trained \(summary.steps) steps in \(String(format: "%.1f", summary.trainSeconds)) s; best step \(summary.bestStep ?? -1)")

// 4. Use the best checkpoint: its model card says how to render the prompt and where to stop.
let model = try LoadedModel.open(path: output.appendingPathComponent("run/best").path)
let prompt = try model.encoder.promptTokens(.instruction(instruction: "Reverse the order of the words.", input: "sun tree cat",
                                                          response: ""))
let answer = try model.answers(prompts: [prompt], maxNewTokens: 16)[0]
print("Reverse the order of the words: sun tree cat -> \(answer.text)")
