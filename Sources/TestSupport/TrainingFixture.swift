import Datasets
import Foundation
import Models
import Tokenizers

/// Small end-to-end fixtures: a JSONL of instruction records, a BPE trained on them, the
/// prepared data and a tiny Llama.
public enum TrainingFixture {
    /// A new empty directory for one test.
    public static func directory() throws -> URL { try temporaryDirectory("instructkit-training") }

    /// `n` Alpaca records "Reverse the words." over ten words, as JSONL.
    public static func records(_ n: Int) -> String {
        let words = ["red", "blue", "cat", "dog", "sun", "tree", "moon", "fish", "bird", "rain"]
        var lines: [String] = []
        for i in 0..<n {
            let a = words[i % words.count], b = words[(i * 7 + 3) % words.count]
            lines.append("{\"instruction\": \"Reverse the words.\", \"input\": \"\(a) \(b)\", \"output\": \"\(b) \(a)\"}")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The records written to `dir`, a 300-id BPE trained on them, and the prepared data.
    public static func prepare(in dir: URL, count: Int = 24, seqLen: Int = 64, packing: PackingMode = .pack,
                        split: Double = 0.25) throws -> (PreparedData, any TextTokenizer) {
        let path = dir.appendingPathComponent("data.jsonl")
        try records(count).write(to: path, atomically: true, encoding: .utf8)
        let tokenizer = try BPETrainer.train(text: records(count), vocabularySize: 300, specialTokens: ["<|endoftext|>"])
        let config = DataConfig(datasets: [DatasetSpec(path: path.path, template: TemplateKind(name: "plain"), validationFraction: split)], seqLen: seqLen,
                                packing: packing, seed: 1, cacheDirectory: nil)
        return (try DataPipeline.prepare(config, tokenizer: tokenizer), tokenizer)
    }

    /// A one-layer Llama with grouped-query attention (dim 16, 2 heads over 1).
    public static func model(vocab: Int) throws -> DecoderModel {
        try DecoderModel(ModelConfig(family: .llama, vocabSize: vocab, contextLength: 128, dim: 16, layers: 1, heads: 2,
                                     kvHeads: 1, ffnDim: 32))
    }
}

