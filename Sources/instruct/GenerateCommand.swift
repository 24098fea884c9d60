import ArgumentParser
import Autograd
import Datasets
import Foundation
import Inference
import Models
import Recipes
import Training

/// Sampling and length options shared by `generate` and `chat`.
struct SamplingArguments: ParsableArguments {
    @Option(help: "Most tokens to generate per answer.")
    var maxNewTokens = 128
    @Option(help: "Sampling temperature; 0 is greedy (the default).")
    var temperature: Float = 0
    @Option(help: "Sample only from the K most likely tokens (0: all).")
    var topK = 0
    @Option(help: "Sample only from the smallest set of tokens whose probability reaches P (1: all).")
    var topP: Float = 1
    @Option(help: "Divide positive logits (multiply negative ones) of tokens already seen by R (1: off).")
    var repetitionPenalty: Float = 1
    @Option(help: "Seed of the sampler (sampling only).")
    var seed: UInt64 = 0
    @Option(parsing: .upToNextOption, help: "Stop when the answer contains one of these strings (not printed).")
    var stop: [String] = []
    @Option(help: "BLAS threads.")
    var threads = 2
    @Flag(help: "Skip checksum verification of the checkpoint.")
    var noVerify = false
    @Option(help: "Weights to decode from: f32 (as trained) or q8_0 (llama.cpp's Q8_0, quantized at load: 3.8x fewer bytes per token).")
    var weights: WeightFormat = .f32

    func validate() throws {
        try validateThreads(threads)
    }

    var sampling: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty)
    }
}

/// Streams one answer: prints each piece of new text as soon as it is final.
/// Returns the full answer and why generation stopped.
func streamAnswer(_ loaded: LoadedModel, prompt: [Int32], arguments: SamplingArguments, rng: inout RNG) throws -> (text: String, stop: StopReason, tokens: Int) {
    let context = loaded.model.config.contextLength
    if prompt.count >= context {
        throw CommandFailure("the prompt has \(prompt.count) tokens but the model's context is \(context) tokens; shorten it to leave room for an answer")
    }
    let options = loaded.generationOptions(sampling: arguments.sampling, maxNewTokens: arguments.maxNewTokens, stopStrings: arguments.stop)
    var stream = TextStream(decode: options.decode ?? { _ in "" }, stopStrings: options.stopStrings)
    let rows = try Generator.generateRows(model: loaded.model, parameters: loaded.parameters, prompts: [prompt],
                                          options: options, rng: &rng, weights: loaded.decodingWeights) { _, token in
        let piece = stream.append(token)
        if !piece.isEmpty {
            FileHandle.standardOutput.write(Data(piece.utf8))
        }
    }
    let rest = stream.finish()
    if !rest.isEmpty { FileHandle.standardOutput.write(Data(rest.utf8)) }
    return (stream.text, rows[0].stopReason, rows[0].tokens.count)
}

/// `instruct generate CKPT --prompt "..."`.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Answer one prompt with a trained checkpoint, streaming the text.",
        discussion: """
            The prompt is rendered with the checkpoint's training template and system prompt
            (as an instruction, with --input as its input), unless --raw passes it as is.
            Decoding is greedy unless --temperature is above 0. Generation stops at the
            end-of-sequence token, a --stop string, the template's end-of-turn marker,
            --max-new-tokens, or the model's context length. A summary goes to stderr.

            Examples:
              instruct generate checkpoints/quickstart --prompt "Sort these numbers: 5 2 9"
              instruct generate checkpoints/quickstart/step-0000600 \\
                  --prompt "Reverse the word" --input "swift"
              instruct generate checkpoints/quickstart --raw --prompt "Once upon" \\
                  --temperature 0.8 --top-p 0.9 --seed 3
            """)

    @Argument(help: "A checkpoint directory (step-NNNNNNN), a run directory (its latest), or a run's latest file.")
    var checkpoint: String
    @Option(help: "The instruction (or, with --raw, the exact text to continue).")
    var prompt: String
    @Option(help: "Input (context) for the instruction.")
    var input = ""
    @Flag(help: "Do not apply the template: continue the prompt text as is (special-token texts such as <|im_start|> become their ids).")
    var raw = false
    @Flag(help: "With --raw, encode special-token texts as plain text.")
    var noSpecialTokens = false
    @OptionGroup var sampling: SamplingArguments

    func validate() throws {
        if raw && !input.isEmpty { throw ValidationError("--input needs the template; drop --raw or put the input into --prompt") }
    }

    func run() throws {
        try reportingErrors { try generate() }
    }

    private func generate() throws {
        BLAS.setThreadCount(sampling.threads)
        var loaded = try LoadedModel.open(path: checkpoint, verify: !sampling.noVerify)
        try loaded.useWeights(sampling.weights)
        let tokens: [Int32]
        if raw {
            var t = loaded.tokenizer.encode(prompt, allowSpecial: !noSpecialTokens)
            // As transformers' tokenizer(text): BOS only when the tokenizer's post-processor adds it.
            if loaded.tokenizer.addsBOS, let bos = loaded.tokenizer.bosTokenID, t.first != bos { t.insert(bos, at: 0) }
            tokens = t
        } else {
            tokens = try loaded.encoder.promptTokens(.instruction(instruction: prompt, input: input, response: ""))
        }
        if tokens.isEmpty { throw CommandFailure("the prompt encodes to no tokens; give some text") }
        var rng = RNG(seed: sampling.seed)
        let start = Date()
        let answer = try streamAnswer(loaded, prompt: tokens, arguments: sampling, rng: &rng)
        print("")
        let seconds = Date().timeIntervalSince(start)
        FileHandle.standardError.write(Data(String(format: "[%d prompt tokens, %d generated, stop: %@, %.1f tokens/s]\n",
                                                   tokens.count, answer.tokens, answer.stop.rawValue,
                                                   Double(answer.tokens) / max(seconds, 1e-9)).utf8))
    }
}

extension WeightFormat: ExpressibleByArgument {}
