import ArgumentParser
import Autograd
import Foundation
import Inference
import Models
import Recipes
import Training

/// `instruct bench generate`: decoding speed of a real model (`--model`) against the
/// memory-bandwidth bound, or, without `--model`, greedy generation with the key/value cache
/// vs recomputing the whole sequence for every token on a random small Llama.
struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generation speed: a real model against the memory-bandwidth bound, or the key/value cache on a random model.",
        discussion: """
            With --model (a GGUF file, a Hugging Face folder or an InstructKit
            checkpoint): greedy decoding at batch 1 with the model's own tokenizer. The
            prompt is a fixed instruction rendered with the model's chat template, or with
            --prompt-tokens N the first N tokens of a fixed English text (or --prompt
            TEXT, rendered). Each of --repetitions runs prefills the prompt (prompt
            tokens/s) and generates --new-tokens tokens (generated tokens/s,
            end-of-sequence ignored); a short warm-up run is not counted and medians are
            printed.
            The memory bandwidth is measured first in the same process (a 256 MiB buffer
            read and copied by --threads threads), and generated tokens/s is shown as a
            share of the bound: bandwidth / bytes read per token (the weights in --weights
            format, plus the cached keys and values).

            Without --model: generates --new-tokens tokens greedily from a random prompt
            on a model with random weights, once with the cache and once recomputing the
            full sequence for every token, and prints tokens/s of both and their ratio.

            Examples:
              instruct bench generate --model models/SmolLM2-135M-Instruct.Q4_1.gguf
              instruct bench generate --model checkpoints/smollm2 --weights q8_0 \\
                  --prompt-tokens 128
              instruct bench generate --model checkpoints/smollm2 --json
              instruct bench generate --dim 256 --layers 6 --new-tokens 128 --threads 1
            """)

    @Option(help: "A GGUF file, a Hugging Face model folder or a checkpoint to measure (default: a random small Llama).")
    var model: String?

    @Option(help: "With --model: weights to decode from, f32 or q8_0.")
    var weights: WeightFormat = .f32

    @Option(help: "With --model: the instruction to answer (rendered with the model's template).")
    var prompt: String?

    @Option(help: "Prompt length in tokens (with --model: the first N tokens of a fixed text; default a rendered instruction; without: 8 random tokens).")
    var promptTokens: Int?

    @Option(help: "Tokens to generate.")
    var newTokens: Int = 128

    @Option(help: "With --model: timed runs (the median is reported).")
    var repetitions: Int = 5

    @Option(help: "Model width (random model; Llama, head size 32).")
    var dim: Int = 128

    @Option(help: "Transformer blocks (random model).")
    var layers: Int = 4

    @Option(help: "Vocabulary size (random model).")
    var vocab: Int = 1024

    @Option(help: "Threads for BLAS and the bandwidth measurement.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    /// The instruction answered when neither --prompt nor --prompt-tokens is given.
    static let defaultInstruction = "Explain in a few sentences why the sky is blue during the day and red at sunset."

    /// The text --prompt-tokens cuts its prompt from (written for this benchmark).
    static let fixedText = """
        The river begins as snow on the northern slopes, where the first warm days of spring loosen it into \
        thin streams that run between the stones. By the time it reaches the valley it has gathered the water \
        of a hundred smaller brooks, and the farmers who live along its banks have learned to read its moods: \
        the brown, hurried water of April, the slow green water of August, the clear and cold water of the \
        first frosts. Mills were built wherever the current was strong enough to turn a wheel, and towns grew \
        around the mills. Bridges followed, first of wood, then of stone, and every bridge became a market \
        where people from both banks met to trade grain, wool, timber and news.
        """

    func validate() throws {
        try validateThreads(threads)
        guard newTokens >= 1, repetitions >= 1 else { throw ValidationError("--new-tokens and --repetitions must be at least 1") }
        if let n = promptTokens, n < 1 { throw ValidationError("--prompt-tokens must be at least 1") }
        if model == nil {
            guard dim >= 64 && dim % 32 == 0 else { throw ValidationError("--dim must be a multiple of 32, at least 64; got \(dim)") }
            guard layers >= 1, vocab >= 2 else { throw ValidationError("--layers must be at least 1 and --vocab at least 2") }
            if prompt != nil || weights != .f32 { throw ValidationError("--prompt and --weights need --model") }
        } else if prompt != nil && promptTokens != nil {
            throw ValidationError("give --prompt or --prompt-tokens, not both")
        }
    }

    func run() throws {
        BLAS.setThreadCount(threads)
        if let model {
            try reportingErrors { try runModel(model) }
            return
        }
        let promptLength = promptTokens ?? 8
        let heads = dim / 32
        let config = ModelConfig(family: .llama, vocabSize: vocab, contextLength: promptLength + newTokens, dim: dim,
                                 layers: layers, heads: heads, kvHeads: heads % 2 == 0 ? heads / 2 : heads)
        let r = try GenerationBenchmark.run(config: config, promptLength: promptLength, newTokens: newTokens)
        if json {
            print(try jsonLine(r))
            return
        }
        print("instruct bench generate: Llama dim \(dim), \(layers) layers, \(config.heads) heads / \(config.kvHeads) kv heads, "
              + "vocab \(vocab); \(promptLength)-token prompt, \(r.newTokens) new tokens, \(threads) BLAS thread(s)\n")
        print(pad("", 16) + lpad("seconds", 10) + lpad("tokens/s", 11))
        print(pad("with cache", 16) + lpad(f2(r.withCacheSeconds), 10) + lpad(f1(r.withCacheTokensPerSecond), 11))
        print(pad("without cache", 16) + lpad(f2(r.withoutCacheSeconds), 10) + lpad(f1(r.withoutCacheTokensPerSecond), 11))
        print("\nspeedup \(f2(r.speedup))x; same tokens both ways: \(r.sameTokens ? "yes" : "no")")
    }

    private func runModel(_ path: String) throws {
        var loaded = LoadedModel.isForeignModel(path) ? try LoadedModel.importing(path) : try LoadedModel.open(path: path, verify: false)
        guard loaded.model.hasDecodingPath else {
            throw CommandFailure("\(path) is a \(loaded.model.config.family) model; the decoding benchmark needs a Llama")
        }
        try loaded.useWeights(weights)
        let tokens: [Int32]
        if let n = promptTokens {
            var t = loaded.tokenizer.encode(Self.fixedText, allowSpecial: false)
            if loaded.tokenizer.addsBOS, let bos = loaded.tokenizer.bosTokenID, t.first != bos { t.insert(bos, at: 0) }
            while t.count < n { t += t }
            tokens = Array(t.prefix(n))
        } else {
            tokens = try loaded.encoder.promptTokens(.instruction(instruction: prompt ?? Self.defaultInstruction, input: "", response: ""))
        }
        // useWeights always prepares the weights of a Llama (checked above).
        guard let decoding = loaded.decodingWeights else { throw CommandFailure("no decoding weights for \(path)") }
        let r = try GenerationBenchmark.run(model: loaded.model, weights: decoding, prompt: tokens, newTokens: newTokens,
                                            repetitions: repetitions, threads: threads)
        if json {
            print(try jsonLine(r))
            return
        }
        let c = loaded.model.config
        print("instruct bench generate: \(path)")
        print("Llama dim \(c.dim), \(c.layers) layers, \(c.heads)/\(c.kvHeads) heads, vocab \(c.vocabSize); weights \(weights.rawValue); "
              + "\(tokens.count)-token prompt, \(newTokens) new tokens, batch 1, greedy; \(repetitions) runs after a warm-up\n")
        let gb = 1e9, bw = r.bandwidths
        func range(_ xs: [Double]) -> String { "\(f1((xs.min() ?? 0) / gb))-\(f1((xs.max() ?? 0) / gb))" }
        print("memory bandwidth before each run (\(threads) threads, \((bw.first?.bufferBytes ?? 0) >> 20) MiB buffer): "
              + "read \(range(bw.map(\.readBytesPerSecond))) GB/s, copy \(range(bw.map(\.copyBytesPerSecond))) GB/s (read + write)")
        print("bytes per generated token: weights \(f1(Double(r.weightBytesPerToken) / 1e6)) MB + KV cache \(f2(Double(r.cacheBytesPerToken) / 1e6)) MB")
        print("bound: \(f1(r.boundTokensPerSecond)) tokens/s (median of max(read, copy / 2) / bytes per token)\n")
        print(pad("", 18) + lpad("median", 9) + lpad("min", 9) + lpad("max", 9) + "  tokens/s")
        for (name, xs, m) in [("prompt (prefill)", r.prefillTokensPerSecond, r.prefillMedian), ("generated", r.decodeTokensPerSecond, r.decodeMedian)] {
            print(pad(name, 18) + lpad(f1(m), 9) + lpad(f1(xs.min() ?? 0), 9) + lpad(f1(xs.max() ?? 0), 9))
        }
        print("\ngenerated tokens/s: \(f1(r.shareOfBound * 100))% of the bandwidth bound (median over runs of each run's share)")
        print("output: \(loaded.tokenizer.decode(r.tokens, skipSpecialTokens: false).debugDescription)")
    }

    private func jsonLine<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
