import XCTest
import Autograd
import NN
import Models
import TestSupport

final class LoRAModelTests: XCTestCase {
    static let all: [ModelFamily: [LoRATarget]] = [.llama: [.q, .k, .v, .o, .gate, .up, .down], .gpt2: [.qkv, .o, .up, .down]]

    /// Adapters with random (non-zero) B, so they change the output; then merging them into
    /// the base gives the adapted model's logits, for every target of both families.
    func test_mergedAdapters_sameLogitsAsUnmerged_bothFamilies() throws {
        for config in [ModelTests.llama, ModelTests.gpt2] {
            let model = try DecoderModel(config, lora: LoRAConfig(rank: 3, alpha: 6, targets: Self.all[config.family]!))
            var rng = RNG(seed: 2)
            var p = model.initialParameters(rng: &rng)
            let base = p
            for (name, shape) in model.adapterShapes { p[name] = Tensor.randomNormal(shape, std: 0.2, rng: &rng) }
            let tokens: [Int32] = [3, 9, 4, 1, 30, 7, 2, 8]
            let pos = (0..<8).map { Int32($0) }, seg = [Int32](repeating: 1, count: 8)
            let adapted = model.logits(ModelInput(tokens: tokens, positions: pos, segmentIDs: seg, batch: 1, time: 8), parameters: p)
            let merged = model.merged(p)
            XCTAssertEqual(merged.names, base.names, "merging removes the adapter tensors")
            let plain = model.withoutAdapters.logits(ModelInput(tokens: tokens, positions: pos, segmentIDs: seg, batch: 1, time: 8), parameters: merged)
            assertClose(plain, adapted, atol: 2e-5, rtol: 1e-4, "\(config.family)")
            let unadapted = model.withoutAdapters.logits(ModelInput(tokens: tokens, positions: pos, segmentIDs: seg, batch: 1, time: 8), parameters: base)
            let moved = zip(unadapted.scalars, adapted.scalars).map { abs($0 - $1) }.max()!
            XCTAssertGreaterThan(moved, 1e-3, "the adapters must change the logits for this test to mean anything")
        }
    }

    /// Fresh adapters (B = 0) leave the logits exactly those of the base.
    func test_freshAdapters_logitsEqualBase() throws {
        let model = try DecoderModel(ModelTests.llama, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v, .down]))
        var rng = RNG(seed: 1)
        let base = model.initialParameters(rng: &rng)
        var p = base
        for (n, t) in model.initialAdapters(rng: &rng).pairs { p[n] = t }
        let args = (tokens: [Int32]([1, 2, 3, 4]), pos: [Int32]([0, 1, 2, 3]), seg: [Int32]([1, 1, 1, 1]))
        let a = model.logits(ModelInput(tokens: args.tokens, positions: args.pos, segmentIDs: args.seg, batch: 1, time: 4), parameters: p)
        let b = model.withoutAdapters.logits(ModelInput(tokens: args.tokens, positions: args.pos, segmentIDs: args.seg, batch: 1, time: 4), parameters: base)
        XCTAssertEqual(a.scalars, b.scalars)
    }

    func test_adapterNames_followPEFTAndHuggingFace() throws {
        let l = try DecoderModel(ModelTests.llama, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .down])).adapterShapes
        XCTAssertEqual(l.count, 2 * 2 * 2)
        XCTAssertEqual(l.first { $0.name == "model.layers.0.self_attn.q_proj.lora_A.weight" }?.shape, [2, 16])
        XCTAssertEqual(l.first { $0.name == "model.layers.1.mlp.down_proj.lora_B.weight" }?.shape, [16, 2])
        let g = try DecoderModel(ModelTests.gpt2, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.qkv, .down])).adapterShapes
        XCTAssertEqual(g.first { $0.name == "transformer.h.0.attn.c_attn.lora_B.weight" }?.shape, [48, 2])
        XCTAssertEqual(g.first { $0.name == "transformer.h.1.mlp.c_proj.lora_A.weight" }?.shape, [2, 64])
    }

    func test_badTargetsAndRank_throwNamingTheProblem() {
        XCTAssertThrowsError(try DecoderModel(ModelTests.gpt2, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.q]))) { e in
            XCTAssertTrue("\(e)".contains("use qkv"), "\(e)")
        }
        XCTAssertThrowsError(try DecoderModel(ModelTests.llama, lora: LoRAConfig(rank: 2, alpha: 4, targets: [.qkv]))) { e in
            XCTAssertTrue("\(e)".contains("use q, k, v"), "\(e)")
        }
        // k_proj is 16 -> 8 (two kv heads of 4): rank 9 does not fit, rank 8 does.
        XCTAssertThrowsError(try DecoderModel(ModelTests.llama, lora: LoRAConfig(rank: 9, alpha: 4, targets: [.k]))) { e in
            XCTAssertTrue("\(e)".contains("rank 9 is larger than target 'k'") && "\(e)".contains("at most 8"), "\(e)")
        }
        XCTAssertNoThrow(try DecoderModel(ModelTests.llama, lora: LoRAConfig(rank: 8, alpha: 4, targets: [.k])))
    }
}
