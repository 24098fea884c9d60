import XCTest
import Autograd
import Models
import NN
import TestSupport
import Inference

final class GenerationTests: XCTestCase {
    static let llama = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 4,
                                   kvHeads: 2, ffnDim: 24)
    static let gpt2 = ModelConfig(family: .gpt2, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 2)

    /// A model with weights large enough (std 1 instead of 0.02) that greedy outputs vary
    /// from token to token instead of repeating one id.
    func model(_ config: ModelConfig, seed: UInt64) throws -> (DecoderModel, Parameters) {
        let model = try DecoderModel(config)
        var rng = RNG(seed: seed)
        let p = model.initialParameters(rng: &rng).mapTensors { _, t in
            t.rank == 2 ? Tensor.randomNormal(t.shape, std: 1.0, rng: &rng) : t
        }
        return (model, p)
    }

    /// Token i decodes to one distinct character, so substrings are token runs.
    static func decode(_ tokens: [Int32]) -> String {
        String(tokens.map { Character(UnicodeScalar(UInt8(65 + $0))) })
    }

    let prompts: [[Int32]] = [[3, 9, 4, 1, 30], [7, 2], [11, 12, 13, 14, 15, 16, 17, 18]]

    /// Greedy generation without any cache: the whole sequence re-run for every token.
    func recomputed(_ model: DecoderModel, _ p: Parameters, _ prompt: [Int32], _ count: Int) -> [Int32] {
        var seq = prompt
        for _ in 0..<count {
            let t = seq.count
            let z = model.logits(ModelInput(tokens: seq, positions: (0..<t).map { Int32($0) }, segmentIDs: [Int32](repeating: 0, count: t), batch: 1, time: t), parameters: p)
            seq.append(Sampler.argmax(z.withUnsafeBufferPointer { Array($0[((t - 1) * model.config.vocabSize)...]) }))
        }
        return Array(seq[prompt.count...])
    }

    func test_greedyGenerate_equalsRecomputingTheFullSequence() throws {
        for config in [Self.gpt2, Self.llama] {
            let (model, p) = try model(config, seed: 1)
            let out = try Generator.generate(model: model, parameters: p, prompts: [prompts[0]],
                                             options: GenerationOptions(maxNewTokens: 12))
            XCTAssertEqual(out[0], recomputed(model, p, prompts[0], 12), "\(config.family)")
            XCTAssertGreaterThan(Set(out[0]).count, 2, "\(config.family): outputs should vary for this test to mean much")
        }
    }

    func test_batchOfDifferentLengths_equalsEachPromptAlone() throws {
        for config in [Self.gpt2, Self.llama] {
            let (model, p) = try model(config, seed: 2)
            let options = GenerationOptions(maxNewTokens: 10)
            let batched = try Generator.generate(model: model, parameters: p, prompts: prompts, options: options)
            for (r, prompt) in prompts.enumerated() {
                let alone = try Generator.generate(model: model, parameters: p, prompts: [prompt], options: options)
                XCTAssertEqual(batched[r], alone[0], "\(config.family) row \(r)")
                XCTAssertEqual(batched[r].count, 10)
            }
        }
    }

    func test_streamingCallback_receivesEveryTokenInOrder() throws {
        let (model, p) = try model(Self.llama, seed: 3)
        var streamed = [[Int32]](repeating: [], count: prompts.count)
        let out = try Generator.generate(model: model, parameters: p, prompts: prompts,
                                         options: GenerationOptions(maxNewTokens: 6)) { row, token in
            streamed[row].append(token)
        }
        XCTAssertEqual(streamed, out)
    }

    func test_sampledGeneration_sameSeed_sameTokens() throws {
        let (model, p) = try model(Self.llama, seed: 4)
        let options = GenerationOptions(sampling: SamplingOptions(temperature: 1, topK: 20, topP: 0.95), maxNewTokens: 12)
        func run(_ seed: UInt64) throws -> [[Int32]] {
            var rng = RNG(seed: seed)
            return try Generator.generate(model: model, parameters: p, prompts: prompts, options: options, rng: &rng)
        }
        XCTAssertEqual(try run(9), try run(9))
        XCTAssertNotEqual(try run(9), try run(10))
    }

    /// An EOS id that row 0 produces (and row 1 does not) stops row 0 before it; row 1 runs on.
    func test_eos_stopsOneRowWhileOthersContinue() throws {
        let (model, p) = try model(Self.gpt2, seed: 5)
        let two = [prompts[0], prompts[1]]
        let free = try Generator.generate(model: model, parameters: p, prompts: two, options: GenerationOptions(maxNewTokens: 10))
        guard let cut = free[0].indices.dropFirst().first(where: { !free[1].contains(free[0][$0]) }) else {
            return XCTFail("no token of row 0 is absent from row 1: \(free)")
        }
        let eos = free[0][cut]
        let firstEOS = free[0].firstIndex(of: eos)!   // eos is an element of free[0]
        var rng = RNG(seed: 0)
        let rows = try Generator.generateRows(model: model, parameters: p, prompts: two,
                                              options: GenerationOptions(maxNewTokens: 10, eosTokenIDs: [eos]), rng: &rng)
        XCTAssertEqual(rows[0].tokens, Array(free[0][..<firstEOS]), "row 0 ends before its EOS, which is not returned")
        XCTAssertEqual(rows[0].stopReason, .eos)
        XCTAssertEqual(rows[1].tokens, free[1])
        XCTAssertEqual(rows[1].stopReason, .maxNewTokens)
    }

    /// A stop string made of two of row 0's output characters stops row 0 after the token that
    /// completes it; row 1, whose text never contains it, runs on.
    func test_stopString_stopsOneRowWhileOthersContinue() throws {
        let (model, p) = try model(Self.llama, seed: 6)
        let two = [prompts[0], prompts[2]]
        let free = try Generator.generate(model: model, parameters: p, prompts: two, options: GenerationOptions(maxNewTokens: 10))
        let text0 = Self.decode(free[0]), text1 = Self.decode(free[1])
        guard let i = (1..<(free[0].count - 1)).first(where: { !text1.contains(Self.decode(Array(free[0][$0...($0 + 1)]))) }) else {
            return XCTFail("every 2-gram of row 0 occurs in row 1: \(text0) / \(text1)")
        }
        let stop = Self.decode(Array(free[0][i...(i + 1)]))
        // Row 0 stops at the first prefix whose text contains the stop string.
        let expectedCount = (1...free[0].count).first { Self.decode(Array(free[0][..<$0])).contains(stop) }!  // it occurs at i
        var rng = RNG(seed: 0)
        let options = GenerationOptions(maxNewTokens: 10, stopStrings: ["", stop], decode: Self.decode)
        let rows = try Generator.generateRows(model: model, parameters: p, prompts: two, options: options, rng: &rng)
        XCTAssertEqual(rows[0].tokens, Array(free[0][..<expectedCount]))
        XCTAssertEqual(rows[0].stopReason, .stopString)
        XCTAssertLessThan(expectedCount, 10)
        XCTAssertEqual(rows[1].tokens, free[1])
        XCTAssertEqual(rows[1].stopReason, .maxNewTokens)
    }

    func test_rowReachingContextLength_stopsWithContextFull() throws {
        let (model, p) = try model(Self.gpt2, seed: 7)   // context 32
        let long = (0..<30).map { Int32($0 % 40) }
        var rng = RNG(seed: 0)
        let full = (0..<32).map { Int32($0 % 40) }
        let rows = try Generator.generateRows(model: model, parameters: p, prompts: [long, prompts[1], full],
                                              options: GenerationOptions(maxNewTokens: 5), rng: &rng)
        XCTAssertEqual(rows[0].tokens.count, 2, "prompt + output fits in the context of 32")
        XCTAssertEqual(rows[0].stopReason, .contextFull)
        XCTAssertEqual(rows[0].tokens, recomputed(model, p, long, 2))
        XCTAssertEqual(rows[1].tokens.count, 5)
        XCTAssertEqual(rows[1].stopReason, .maxNewTokens)
        XCTAssertEqual(rows[2].tokens, [])
        XCTAssertEqual(rows[2].stopReason, .contextFull)
        let alone = try Generator.generateRows(model: model, parameters: p, prompts: [full],
                                               options: GenerationOptions(maxNewTokens: 5), rng: &rng)
        XCTAssertEqual(alone, [GeneratedRow(tokens: [], stopReason: .contextFull)])
    }

    func test_badPrompts_throwNamingTheRow() throws {
        let (model, p) = try model(Self.llama, seed: 8)
        XCTAssertThrowsError(try Generator.generate(model: model, parameters: p, prompts: [[1], []])) {
            XCTAssertEqual($0 as? GenerationError, .emptyPrompt(row: 1))
        }
        XCTAssertThrowsError(try Generator.generate(model: model, parameters: p, prompts: [[1, 40]])) {
            XCTAssertEqual($0 as? GenerationError, .tokenOutOfVocabulary(row: 0, token: 40, vocabSize: 40))
        }
        XCTAssertThrowsError(try Generator.generate(model: model, parameters: p, prompts: [[Int32](repeating: 1, count: 33)])) {
            XCTAssertEqual($0 as? GenerationError, .promptTooLong(row: 0, length: 33, contextLength: 32))
        }
        XCTAssertThrowsError(try Generator.generate(model: model, parameters: p, prompts: [[1]],
                                                    options: GenerationOptions(stopStrings: ["x"])))
        XCTAssertThrowsError(try Generator.generate(model: model, parameters: p, prompts: [[1]],
                                                    options: GenerationOptions(padTokenID: 40))) {
            XCTAssertTrue("\($0)".contains("pad token id 40"), "\($0)")
        }
    }

    /// The benchmark runs end to end on a tiny model and both ways agree (no timing asserted).
    func test_generationBenchmark_tinyModel_bothWaysSameTokens() throws {
        let r = try GenerationBenchmark.run(config: Self.llama, promptLength: 3, newTokens: 8)
        XCTAssertEqual(r.newTokens, 8)
        XCTAssertTrue(r.sameTokens)
        XCTAssertGreaterThan(r.withCacheTokensPerSecond, 0)
        XCTAssertGreaterThan(r.withoutCacheTokensPerSecond, 0)
    }
}
