import XCTest
import Autograd
import NN
import Models
import TestSupport

final class KVCacheTests: XCTestCase {
    static let llama = ModelConfig(family: .llama, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 4,
                                   kvHeads: 2, ffnDim: 24)
    static let gpt2 = ModelConfig(family: .gpt2, vocabSize: 40, contextLength: 32, dim: 16, layers: 2, heads: 2)

    /// Fixed pseudo-random token ids in 0..<vocab.
    func tokens(_ count: Int, seed: UInt64, vocab: Int = 40) -> [Int32] {
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in Int32(rng.nextInt(below: vocab)) }
    }

    /// Weights with std 0.5 instead of 0.02, so attention is far from uniform and a wrong
    /// mask or position moves the logits by much more than the tolerance.
    func parameters(_ model: DecoderModel, seed: UInt64) -> Parameters {
        var rng = RNG(seed: seed)
        return model.initialParameters(rng: &rng).mapTensors { _, t in
            t.rank == 2 ? Tensor.randomNormal(t.shape, std: 0.5, rng: &rng) : t
        }
    }

    /// Rows `rows` of a [N, V] tensor.
    func rows(_ t: Tensor, _ rows: Range<Int>) -> Tensor { t.slice(axis: 0, rows) }

    /// Prefill k tokens, then decode the rest one at a time: every position's logits equal
    /// those of one full forward pass (no cache), for GPT-2 and for Llama with GQA.
    func test_prefillThenDecode_logitsEqualFullForwardAtEveryPosition() throws {
        for config in [Self.gpt2, Self.llama] {
            let model = try DecoderModel(config)
            let p = parameters(model, seed: 11)
            let t = 12, b = 2
            let seq = tokens(b * t, seed: 5)
            let positions = (0..<(b * t)).map { Int32($0 % t) }
            let full = model.logits(ModelInput(tokens: seq, positions: positions, segmentIDs: [Int32](repeating: 0, count: b * t), batch: b, time: t), parameters: p)                        // [B*T, V]
            for k in [1, 5, t] {
                var cache = model.makeCache(batch: b, capacity: t)
                var steps: [Tensor] = []   // each [B*n, V]
                var s = 0
                while s < t {
                    let n = s == 0 ? k : 1
                    let newTokens = (0..<b).flatMap { r in seq[(r * t + s)..<(r * t + s + n)] }
                    let newPositions = (0..<b).flatMap { _ in (s..<(s + n)).map { Int32($0) } }
                    steps.append(model.logits(appending: newTokens, positions: newPositions, cache: &cache, parameters: p))
                    s += n
                }
                XCTAssertEqual(cache.length, t)
                // Reassemble [B*T, V] in row-major order from the per-step blocks.
                var ordered: [Tensor] = []
                for r in 0..<b {
                    for (i, step) in steps.enumerated() {
                        let n = i == 0 ? k : 1
                        ordered.append(rows(step, (r * n)..<(r * n + n)))
                    }
                }
                assertClose(Tensor.concatenate(ordered, axis: 0), full, atol: 1e-5, rtol: 0,
                            "\(config.family), prefill \(k)")
            }
        }
    }

    /// A batch of a long and a left-padded short prompt gives each row the logits it gets alone.
    func test_leftPaddedBatch_rowsEqualEachAlone() throws {
        for config in [Self.gpt2, Self.llama] {
            let model = try DecoderModel(config)
            let p = parameters(model, seed: 12)
            let long = tokens(7, seed: 1), short = tokens(3, seed: 2)
            let continuation = tokens(8, seed: 3)          // 4 decode steps for each row
            let pad = 7 - 3

            // Batched: row 1 is left-padded by 4 slots that hold an arbitrary token (39).
            var cache = model.makeCache(batch: 2, capacity: 11, startOffsets: [0, pad])
            let prefill = long + [Int32](repeating: 39, count: pad) + short
            let prefillPositions = (0..<7).map { Int32($0) } + [Int32](repeating: 0, count: pad) + (0..<3).map { Int32($0) }
            let batchedPrefill = model.logits(appending: prefill, positions: prefillPositions, cache: &cache, parameters: p)
            var batchedSteps: [Tensor] = []
            for i in 0..<4 {
                batchedSteps.append(model.logits(appending: [continuation[2 * i], continuation[2 * i + 1]],
                                                 positions: [Int32(7 + i), Int32(3 + i)], cache: &cache, parameters: p))
            }
            XCTAssertEqual(cache.rowLengths, [11, 7])

            // Each row alone, without padding.
            for (r, prompt) in [long, short].enumerated() {
                var alone = model.makeCache(batch: 1, capacity: prompt.count + 4)
                let l = prompt.count
                let prefillAlone = model.logits(appending: prompt, positions: (0..<l).map { Int32($0) },
                                                cache: &alone, parameters: p)
                assertClose(rows(batchedPrefill, (r * 7 + 7 - l)..<(r * 7 + 7)), prefillAlone, atol: 1e-5, rtol: 0,
                            "\(config.family) row \(r) prefill")
                for i in 0..<4 {
                    let step = model.logits(appending: [continuation[2 * i + r]], positions: [Int32(l + i)],
                                            cache: &alone, parameters: p)
                    assertClose(rows(batchedSteps[i], r..<(r + 1)), step, atol: 1e-5, rtol: 0,
                                "\(config.family) row \(r) step \(i)")
                }
            }
        }
    }

    /// Copying a cache and appending to the copy leaves the original unchanged (value semantics).
    func test_copiedCache_appendingToCopy_leavesOriginalUsable() throws {
        let model = try DecoderModel(Self.llama)
        let p = parameters(model, seed: 13)
        var cache = model.makeCache(batch: 1, capacity: 6)
        _ = model.logits(appending: [1, 2, 3], positions: [0, 1, 2], cache: &cache, parameters: p)
        var fork = cache
        let a = model.logits(appending: [4], positions: [3], cache: &fork, parameters: p)
        _ = model.logits(appending: [9], positions: [3], cache: &cache, parameters: p)
        var fork2 = fork
        let again = model.logits(appending: [5], positions: [4], cache: &fork2, parameters: p)
        let reference = model.logits(ModelInput(tokens: [1, 2, 3, 4, 5], positions: [0, 1, 2, 3, 4], segmentIDs: [0, 0, 0, 0, 0], batch: 1, time: 5), parameters: p)
        assertClose(a, rows(reference, 3..<4), atol: 1e-5, rtol: 0)
        assertClose(again, rows(reference, 4..<5), atol: 1e-5, rtol: 0)
        XCTAssertEqual(cache.length, 4)
        XCTAssertEqual(fork.length, 4)
    }
}
