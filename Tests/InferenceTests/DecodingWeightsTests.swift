import XCTest
import Autograd
import Foundation
import Models
import NN
import TestSupport
import Inference

final class DecodingWeightsTests: XCTestCase {
    /// The package root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let smolLM2 = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf")

    static let prompts = ["What is the capital of France?", "Write a haiku about the sea.",
                          "List three uses of a paperclip."]

    /// SmolLM2-135M-Instruct decoded from Q8_0 weights answers the fixed prompts greedily with
    /// the same tokens as from float32, and the next-token logits of each prompt differ by
    /// little (measured: see the printed maximum).
    func test_smolLM2_q8_0Weights_greedyAnswersEqualFloat32() throws {
        guard FileManager.default.fileExists(atPath: Self.smolLM2.path) else {
            // The 98 MB model is not in the repository; without it there is nothing to compare.
            print("DecodingWeightsTests skipped: \(Self.smolLM2.path) is absent; run scripts/fetch-smollm2.sh to fetch it")
            throw XCTSkip("\(Self.smolLM2.path) is absent; run scripts/fetch-smollm2.sh")
        }
        var loaded = try LoadedModel.importing(Self.smolLM2.path)
        let prompts = try Self.prompts.map { try loaded.encoder.promptTokens(.instruction(instruction: $0, input: "", response: "")) }
        let f32 = try loaded.answers(prompts: prompts, maxNewTokens: 32, batchSize: 1)
        try loaded.useWeights(.q8_0)
        let q8 = try loaded.answers(prompts: prompts, maxNewTokens: 32, batchSize: 1)
        // The prompts' next-token logits, float32 against Q8_0.
        let model = loaded.model
        let w32 = try model.decodingWeights(loaded.parameters, format: .f32)
        let w8 = try XCTUnwrap(loaded.decodingWeights)
        var worst: Float = 0
        for prompt in prompts {
            let positions = (0..<prompt.count).map { Int32($0) }
            var c1 = model.makeCache(batch: 1, capacity: prompt.count), c2 = c1
            let a = model.logits(appending: prompt, positions: positions, cache: &c1, weights: w32, lastOnly: true)
            let b = model.logits(appending: prompt, positions: positions, cache: &c2, weights: w8, lastOnly: true)
            let diff = (a - b).withUnsafeBufferPointer { $0.map(abs).max() ?? 0 }
            worst = max(worst, diff)
        }
        print("SmolLM2 Q8_0 vs float32: largest next-token logit difference \(worst) over \(prompts.count) prompts")
        XCTAssertLessThan(worst, 1.0)
        for (i, (a, b)) in zip(f32, q8).enumerated() {
            XCTAssertEqual(a.tokens, b.tokens, "prompt \(i): \(a.text.debugDescription) vs \(b.text.debugDescription)")
        }
    }

    /// The model benchmark on a small random Llama: medians of the repetitions, a positive
    /// bandwidth bound, and the weights' byte count in it.
    func test_generationBenchmark_randomModel_reportsMediansAndBound() throws {
        let config = ModelConfig(family: .llama, vocabSize: 64, contextLength: 64, dim: 64, layers: 2, heads: 4, kvHeads: 2, ffnDim: 96)
        let model = try DecoderModel(config)
        var rng = RNG(seed: 1)
        let w = try model.decodingWeights(model.initialParameters(rng: &rng), format: .q8_0)
        let r = try GenerationBenchmark.run(model: model, weights: w, prompt: [1, 2, 3, 4], newTokens: 6, repetitions: 3, threads: 2)
        XCTAssertEqual(r.decodeTokensPerSecond.count, 3)
        XCTAssertEqual(r.decodeMedian, r.decodeTokensPerSecond.sorted()[1])
        XCTAssertEqual(r.tokens.count, 6)
        XCTAssertEqual(r.weightBytesPerToken, w.bytesReadPerToken)
        XCTAssertGreaterThan(r.boundTokensPerSecond, 0)
        XCTAssertEqual(r.shareOfBound, r.decodeMedian / r.boundTokensPerSecond, accuracy: 1e-9)
        XCTAssertThrowsError(try GenerationBenchmark.run(model: model, weights: w, prompt: [1, 2], newTokens: 63, repetitions: 1, threads: 1))
        XCTAssertThrowsError(try GenerationBenchmark.run(model: model, weights: w, prompt: [99], newTokens: 1, repetitions: 1, threads: 1))
    }
}
