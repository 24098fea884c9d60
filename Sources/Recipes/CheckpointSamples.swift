import Autograd
import Datasets
import Foundation
import Models
import NN
import Inference
import Training

/// `eval.samples`: the recipe's prompt set, answered with the weights of each checkpoint as
/// it is saved. Each save appends one JSON line per prompt, `{"step", "prompt", "response"}`,
/// to `RUN/samples.jsonl`. Prompts are rendered with the training template as instructions
/// (as `instruct generate` does) and answered in one batch with the KV cache; greedy unless
/// `temperature` is above 0.
public struct CheckpointSamples {
    public let prompts: [String]
    let tokens: [[Int32]]
    let options: GenerationOptions
    let seed: UInt64
    let model: DecoderModel
    /// `RUN/samples.jsonl`.
    public let file: URL

    /// Reads the prompt set (a missing or empty file, or a prompt too long for the context,
    /// throws here, before training starts) and prepares the encoder.
    public init(_ section: SamplesSection, setup: Recipe.Setup) throws {
        prompts = try Self.readPrompts(section.prompts)
        let encoder = setup.promptEncoder
        tokens = try prompts.map { try encoder.promptTokens(.instruction(instruction: $0, input: "", response: "")) }
        let context = setup.model.config.contextLength
        for (i, t) in tokens.enumerated() where t.count >= context {
            throw RecipeError.invalidValue(source: setup.recipe.file, key: "eval.samples.prompts[\(i)]",
                                           reason: "has \(t.count) tokens with the template; the context is \(context), leaving no room to answer")
        }
        options = GenerationOptions(card: setup.card, tokenizer: setup.tokenizer,
                                    sampling: SamplingOptions(temperature: Float(section.temperature)), maxNewTokens: section.maxNewTokens)
        seed = setup.recipe.seed
        model = setup.model
        file = setup.outputDirectory.appendingPathComponent("samples.jsonl")
    }

    static func readPrompts(_ prompts: SamplesSection.Prompts) throws -> [String] {
        switch prompts {
        case let .inline(list): return list
        case let .file(path):
            let text: String
            do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
                throw TrainingError.io(path: path, reason: "cannot read the eval.samples prompts (\(error.localizedDescription))")
            }
            var out: [String] = []
            for (i, line) in text.components(separatedBy: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                guard path.hasSuffix(".jsonl") else { out.append(line); continue }
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let prompt = object["prompt"] as? String, !prompt.isEmpty else {
                    throw TrainingError.io(path: "\(path):\(i + 1)", reason: "needs a JSON object with a non-empty string `prompt` (an optional `input` is appended after a blank line)")
                }
                let input = object["input"] as? String ?? ""
                out.append(input.isEmpty ? prompt : prompt + "\n\n" + input)
            }
            if out.isEmpty { throw TrainingError.io(path: path, reason: "has no prompts (eval.samples.prompts)") }
            return out
        }
    }

    /// Answers every prompt with `parameters` and appends the lines for `step`.
    public func append(step: Int, parameters: Parameters) throws {
        // One batch of every prompt, as the samples have always been drawn (a sampled row's
        // draws depend on its batch-mates).
        var rng = RNG(seed: seed, stream: UInt64(step))
        let answers = try Generator.answers(model: model, parameters: parameters, prompts: tokens, options: options,
                                            batchSize: tokens.count, rng: &rng)
        var out = ""
        for (prompt, answer) in zip(prompts, answers) {
            out += try RunFiles.jsonLine(["step": step, "prompt": prompt, "response": answer.text])
        }
        do {
            if !FileManager.default.fileExists(atPath: file.path) { try Data().write(to: file) }
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(out.utf8))
        } catch {
            throw TrainingError.io(path: file.path, reason: "cannot append samples (\(error.localizedDescription))")
        }
    }

    /// Drops lines after `step` (a resumed run writes them again).
    public func truncate(afterStep step: Int) throws {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (object?["step"] as? Int ?? 0) <= step
        }
        do {
            try Data(kept.map { $0 + "\n" }.joined().utf8).write(to: file, options: .atomic)
        } catch {
            throw TrainingError.io(path: file.path, reason: "cannot rewrite (\(error.localizedDescription))")
        }
    }
}
