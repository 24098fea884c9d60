import ArgumentParser
import Autograd
import Foundation
import Inference
import Models
import Training

/// `instruct bench generate`: greedy generation with the key/value cache vs recomputing the
/// whole sequence for every token, on a random small Llama.
struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generation speed with the key/value cache vs without it.",
        discussion: """
            Generates --new-tokens tokens greedily from a --prompt-tokens random prompt on a
            model with random weights, once with the cache and once recomputing the full
            sequence for every token, and prints tokens/s of both and their ratio.

            Examples:
              instruct bench generate
              instruct bench generate --dim 256 --layers 6 --new-tokens 128 --threads 1
              instruct bench generate --json
            """)

    @Option(help: "Model width (Llama, head size 32).")
    var dim: Int = 128

    @Option(help: "Transformer blocks.")
    var layers: Int = 4

    @Option(help: "Vocabulary size.")
    var vocab: Int = 1024

    @Option(help: "Prompt length in tokens.")
    var promptTokens: Int = 8

    @Option(help: "Tokens to generate.")
    var newTokens: Int = 256

    @Option(help: "Threads for BLAS.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        try validateThreads(threads)
        guard dim >= 64 && dim % 32 == 0 else { throw ValidationError("--dim must be a multiple of 32, at least 64; got \(dim)") }
        guard layers >= 1, vocab >= 2, promptTokens >= 1, newTokens >= 1 else {
            throw ValidationError("--layers, --prompt-tokens and --new-tokens must be at least 1 and --vocab at least 2")
        }
    }

    func run() throws {
        BLAS.setThreadCount(threads)
        let heads = dim / 32
        let config = ModelConfig(family: .llama, vocabSize: vocab, contextLength: promptTokens + newTokens, dim: dim,
                                 layers: layers, heads: heads, kvHeads: heads % 2 == 0 ? heads / 2 : heads)
        let r = try GenerationBenchmark.run(config: config, promptLength: promptTokens, newTokens: newTokens)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        print("instruct bench generate: Llama dim \(dim), \(layers) layers, \(config.heads) heads / \(config.kvHeads) kv heads, "
              + "vocab \(vocab); \(promptTokens)-token prompt, \(r.newTokens) new tokens, \(threads) BLAS thread(s)\n")
        print(pad("", 16) + lpad("seconds", 10) + lpad("tokens/s", 11))
        print(pad("with cache", 16) + lpad(f2(r.withCacheSeconds), 10) + lpad(f1(r.withCacheTokensPerSecond), 11))
        print(pad("without cache", 16) + lpad(f2(r.withoutCacheSeconds), 10) + lpad(f1(r.withoutCacheTokensPerSecond), 11))
        print("\nspeedup \(f2(r.speedup))x; same tokens both ways: \(r.sameTokens ? "yes" : "no")")
    }
}
