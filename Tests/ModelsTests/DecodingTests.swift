import XCTest
import Autograd
import NN
import Models
import TestSupport

final class DecodingTests: XCTestCase {
    /// dim 64 (two Q8_0 blocks per row), 4 query heads over 2 kv heads, ffn 96 (three blocks).
    static let llama = ModelConfig(family: .llama, vocabSize: 50, contextLength: 48, dim: 64, layers: 2, heads: 4,
                                   kvHeads: 2, ffnDim: 96)

    func parameters(_ model: DecoderModel, seed: UInt64) -> Parameters {
        var rng = RNG(seed: seed)
        return model.initialParameters(rng: &rng).mapTensors { _, t in
            t.rank == 2 ? Tensor.randomNormal(t.shape, std: 0.3, rng: &rng) : t
        }
    }

    func tokens(_ count: Int, seed: UInt64) -> [Int32] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in Int32(rng.nextInt(below: 50)) }
    }

    /// Runs a left-padded batch of two rows through prefill (`n` tokens) and three decode
    /// steps on both paths; returns each step's logits of the generic path and of the
    /// decoding path.
    func bothPaths(_ model: DecoderModel, _ p: Parameters, _ w: DecodingWeights, prefill n: Int) -> [(Tensor, Tensor)] {
        let b = 2, offsets = [0, 2]
        let seq = tokens(b * (n + 3), seed: UInt64(n))
        var generic = model.makeCache(batch: b, capacity: n + 3, startOffsets: offsets)
        var fast = generic
        var out: [(Tensor, Tensor)] = []
        var s = 0
        while s < n + 3 {
            let len = s == 0 ? n : 1
            var toks: [Int32] = [], pos: [Int32] = []
            for r in 0..<b {
                let first = r * (n + 3) + s
                toks += seq[first..<(first + len)]
                for slot in s..<(s + len) { pos.append(Int32(Swift.max(0, slot - offsets[r]))) }
            }
            let g = model.logits(appending: toks, positions: pos, cache: &generic, parameters: p)
            let f = model.logits(appending: toks, positions: pos, cache: &fast, weights: w)
            out.append((g, f))
            s += len
        }
        return out
    }

    func test_decodingWeightsF32_prefillAndDecode_logitsEqualGenericPath() throws {
        let model = try DecoderModel(Self.llama)
        let p = parameters(model, seed: 1)
        let w = try model.decodingWeights(p, format: .f32)
        // 3 prompt tokens: the grouped streaming kernel; 12: above streamingRowLimit (sgemm).
        for n in [3, 12] {
            for (g, f) in bothPaths(model, p, w, prefill: n) { assertClose(f, g, atol: 1e-4, rtol: 1e-4) }
        }
    }

    func test_decodingWeightsQ8_0_logitsEqualGenericPathOnDequantizedWeights() throws {
        let model = try DecoderModel(Self.llama)
        let p = parameters(model, seed: 2)
        let w = try model.decodingWeights(p, format: .q8_0)
        // The float32 model whose weights are the Q8_0 ones de-quantized.
        let dequantized = p.mapTensors { _, t in t.rank == 2 ? Q8_0Matrix(quantizing: t).dequantized() : t }
        for n in [3, 12] {
            for (g, f) in bothPaths(model, dequantized, w, prefill: n) { assertClose(f, g, atol: 1e-4, rtol: 1e-4) }
        }
        XCTAssertEqual(w.format, .q8_0)
        // 34 bytes per 32 weights instead of 128.
        let f32 = try model.decodingWeights(p, format: .f32)
        XCTAssertLessThan(Double(w.bytesReadPerToken), Double(f32.bytesReadPerToken) / 3.5)
    }

    func test_logitsLastOnly_prefill_returnsEachRowsLastToken() throws {
        let model = try DecoderModel(Self.llama)
        let p = parameters(model, seed: 3)
        let w = try model.decodingWeights(p, format: .f32)
        let toks = tokens(10, seed: 9), pos = (0..<10).map { Int32($0 % 5) }
        var c1 = model.makeCache(batch: 2, capacity: 5), c2 = c1
        let all = model.logits(appending: toks, positions: pos, cache: &c1, weights: w)
        let last = model.logits(appending: toks, positions: pos, cache: &c2, weights: w, lastOnly: true)
        XCTAssertEqual(last.shape, [2, 50])
        assertClose(last, Tensor.gatherRows(all, indices: [4, 9]), atol: 1e-6, rtol: 1e-6)
    }

    func test_decodingWeights_gpt2OrBadQ8_0Shape_throwNotSupported() throws {
        let gpt2 = try DecoderModel(ModelConfig(family: .gpt2, vocabSize: 40, contextLength: 32, dim: 32, layers: 1, heads: 2))
        var rng = RNG(seed: 0)
        XCTAssertFalse(gpt2.hasDecodingPath)
        XCTAssertThrowsError(try gpt2.decodingWeights(gpt2.initialParameters(rng: &rng), format: .f32)) {
            guard case ModelError.notSupported = $0 else { return XCTFail("\($0)") }
        }
        // dim 48: rows of 48 values are not whole Q8_0 blocks; the error names the tensor.
        let odd = try DecoderModel(ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 48, layers: 1, heads: 2))
        XCTAssertThrowsError(try odd.decodingWeights(odd.initialParameters(rng: &rng), format: .q8_0)) {
            guard case let ModelError.notSupported(_, reason) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("q_proj.weight"), reason)
        }
        XCTAssertNoThrow(try odd.decodingWeights(odd.initialParameters(rng: &rng), format: .f32))
    }
}
