import Autograd
import Foundation
import Models
import NN
import TestSupport
import Training
import XCTest

/// DPO and IPO on tiny random Llama and GPT-2 models against the reference computed with
/// transformers in float64 (scripts/make_dpo_reference.py; the fixture's `source` says whether
/// TRL's `DPOTrainer.dpo_loss` or the paper's formulas produced the loss). Each pair is laid out
/// as training lays it out: one row, chosen side as segment 1, rejected side as segment 2.
final class PreferenceParityTests: XCTestCase {
    struct Fixture: Decodable {
        struct Weight: Decodable { var shape: [Int]; var data: [Float] }
        struct Pair: Decodable { var prompt: [Int32]; var chosen: [Int32]; var rejected: [Int32] }
        struct Case: Decodable {
            var name: String
            var loss_type: String
            var beta: Double
            var label_smoothing: Double
            var source: String
            var policy_chosen: [Double]
            var policy_rejected: [Double]
            var reference_chosen: [Double]
            var reference_rejected: [Double]
            var losses: [Double]
            var rewards_chosen: [Double]
            var rewards_rejected: [Double]
            var counts: [[Int]]
            var gradients: [String: [Double]]
        }
        var config: [String: Value]
        var pairs: [Pair]
        var cases: [Case]
        var weights: [String: Weight]
    }
    enum Value: Decodable {
        case number(Double), string(String), bool(Bool)
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
        }
        var int: Int { if case let .number(d) = self { return Int(d) }; return 0 }
        var float: Float { if case let .number(d) = self { return Float(d) }; return 0 }
        var bool: Bool { if case let .bool(b) = self { return b }; return false }
        var string: String { if case let .string(s) = self { return s }; return "" }
    }

    func load(_ name: String) throws -> (DecoderModel, Parameters, Fixture) {
        let url = try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"),
                                "fixture \(name).json missing: run scripts/make_dpo_reference.py")
        let f = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        let c = f.config
        let family = try XCTUnwrap(ModelFamily(rawValue: c["family"]?.string ?? ""))
        let config = ModelConfig(family: family, vocabSize: c["vocab_size"]!.int, contextLength: c["context_length"]!.int,
                                 dim: c["dim"]!.int, layers: c["layers"]!.int, heads: c["heads"]!.int,
                                 kvHeads: c["kv_heads"]!.int, ffnDim: c["ffn_dim"]!.int, normEps: c["norm_eps"]!.float,
                                 ropeTheta: c["rope_theta"]?.float ?? 10000, tiedEmbeddings: c["tied"]?.bool ?? true)
        let model = try DecoderModel(config)
        var p = Parameters()
        for (n, _) in model.parameterShapes {
            let w = try XCTUnwrap(f.weights[n], "fixture has no tensor \(n)")
            p[n] = Tensor(shape: w.shape, scalars: w.data)
        }
        try model.validate(p)
        return (model, p, f)
    }

    /// One row per pair: [prompt chosen | prompt rejected | padding], response targets only.
    static func rows(_ pairs: [Fixture.Pair]) -> ModelInput {
        let T = pairs.map { 2 * $0.prompt.count + $0.chosen.count + $0.rejected.count }.max() ?? 1
        var tokens: [Int32] = [], positions: [Int32] = [], segments: [Int32] = [], targets: [Int32] = []
        for pair in pairs {
            var row: [Int32] = [], pos: [Int32] = [], seg: [Int32] = [], tgt: [Int32] = []
            for (s, response) in [pair.chosen, pair.rejected].enumerated() {
                let seq = pair.prompt + response
                for (j, t) in seq.enumerated() {
                    row.append(t)
                    pos.append(Int32(j))
                    seg.append(Int32(s + 1))
                    // Token j predicts token j + 1, counted when that token is a response token.
                    tgt.append(j + 1 < seq.count && j + 1 >= pair.prompt.count ? seq[j + 1] : -100)
                }
            }
            let pad = T - row.count
            tokens += row + [Int32](repeating: 0, count: pad)
            positions += pos + [Int32](repeating: 0, count: pad)
            segments += seg + [Int32](repeating: 0, count: pad)
            targets += tgt + [Int32](repeating: -100, count: pad)
        }
        return ModelInput(tokens: tokens, positions: positions, segmentIDs: segments, batch: pairs.count, time: T,
                          targets: targets, ignoreIndex: -100)
    }

    /// |a - e| <= 1e-5 max(1, |e|): 1e-5 absolute for values up to 1, relative above (the sums
    /// of log-probabilities reach ~40, where Float32 carries ~4e-6).
    func assertNear(_ a: Double, _ e: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(a - e), 1e-5 * max(1, abs(e)), "\(what): got \(a), expected \(e)", file: file, line: line)
    }

    func check(_ name: String) throws {
        let (model, p, f) = try load(name)
        let input = Self.rows(f.pairs)
        XCTAssertFalse(f.cases.isEmpty)
        for c in f.cases {
            var options = PreferenceOptions()
            options.loss = try XCTUnwrap(PreferenceLossKind(rawValue: c.loss_type))
            options.beta = c.beta
            options.labelSmoothing = c.label_smoothing
            let ipo = options.loss == .ipo
            // The fixture stores sums (IPO's loss divides them by the answer lengths, as TRL).
            let reference = f.pairs.indices.map { i in
                ReferencePair(chosen: c.reference_chosen[i], rejected: c.reference_rejected[i],
                              chosenTokens: c.counts[i][0], rejectedTokens: c.counts[i][1])
            }
            let names = Set(c.gradients.keys)
            let tracked = p.tracked(only: names)
            let r = PreferenceObjective.evaluate(model: model, input: input, parameters: tracked, reference: reference, options: options)
            XCTAssertEqual(r.totals.pairs, f.pairs.count)
            var rewardChosen = 0.0, rewardRejected = 0.0
            for i in f.pairs.indices {
                XCTAssertEqual(r.policy[i].chosenTokens, c.counts[i][0], "\(name) \(c.name) pair \(i) chosen tokens")
                XCTAssertEqual(r.policy[i].rejectedTokens, c.counts[i][1], "\(name) \(c.name) pair \(i) rejected tokens")
                assertNear(r.policy[i].chosen, c.policy_chosen[i], "\(name) \(c.name) pair \(i) policy chosen")
                assertNear(r.policy[i].rejected, c.policy_rejected[i], "\(name) \(c.name) pair \(i) policy rejected")
                let sc = ipo ? 1 / Double(c.counts[i][0]) : 1, sr = ipo ? 1 / Double(c.counts[i][1]) : 1
                let one = PreferencePairLoss(policyChosen: r.policy[i].chosen * sc, policyRejected: r.policy[i].rejected * sr,
                                             referenceChosen: c.reference_chosen[i] * sc, referenceRejected: c.reference_rejected[i] * sr,
                                             options: options)
                assertNear(one.loss, c.losses[i], "\(name) \(c.name) pair \(i) loss")
                rewardChosen += c.rewards_chosen[i]
                rewardRejected += c.rewards_rejected[i]
                if !ipo {
                    assertNear(one.rewardChosen, c.rewards_chosen[i], "\(name) \(c.name) pair \(i) chosen reward")
                    assertNear(one.rewardRejected, c.rewards_rejected[i], "\(name) \(c.name) pair \(i) rejected reward")
                }
            }
            // The step's rewards (every case, IPO's on the summed log-ratios as TRL logs them).
            assertNear(r.totals.rewardChosen, rewardChosen, "\(name) \(c.name) summed chosen rewards")
            assertNear(r.totals.rewardRejected, rewardRejected, "\(name) \(c.name) summed rejected rewards")
            assertNear(r.totals.loss / Double(f.pairs.count), c.losses.reduce(0, +) / Double(c.losses.count), "\(name) \(c.name) mean loss")
            // Gradient of the mean loss: the surrogate's gradient divided by the pair count.
            let surrogate = try XCTUnwrap(r.surrogate)
            let grads = tracked.gradients(of: surrogate * (1 / Float(f.pairs.count)))
            for (tensorName, expected) in c.gradients {
                let got = grads[tensorName].scalars
                XCTAssertEqual(got.count, expected.count)
                let scale = max(1e-3, expected.map(abs).max() ?? 0)
                var worst = 0.0
                for (a, e) in zip(got, expected) { worst = max(worst, abs(Double(a) - e)) }
                // 1e-5 of the tensor's largest gradient entry (Float32 backward vs float64 torch).
                XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(name) \(c.name) gradient of \(tensorName): worst difference \(worst), largest entry \(scale)")
            }
        }
    }

    func test_dpoLlama_lossRewardsAndGradients_matchTransformersReference() throws { try check("dpo_llama") }
    func test_dpoGPT2_lossRewardsAndGradients_matchTransformersReference() throws { try check("dpo_gpt2") }

    /// RPO adds alpha x the chosen answer's mean NLL to each pair and its derivative to the
    /// chosen sum's weight: checked against the plain DPO values on the Llama fixture, and the
    /// surrogate's gradient against a finite difference of the total loss along one weight.
    func test_rpoAlpha_addsChosenMeanNLL_andItsGradient() throws {
        let (model, p, f) = try load("dpo_llama")
        let input = Self.rows(f.pairs)
        let c = try XCTUnwrap(f.cases.first { $0.name == "sigmoid" })
        let reference = f.pairs.indices.map { i in
            ReferencePair(chosen: c.reference_chosen[i], rejected: c.reference_rejected[i],
                          chosenTokens: c.counts[i][0], rejectedTokens: c.counts[i][1])
        }
        var o = PreferenceOptions()
        let plain = PreferenceObjective.evaluate(model: model, input: input, parameters: p, reference: reference, options: o)
        o.rpoAlpha = 0.7
        let name = "model.norm.weight"
        let tracked = p.tracked(only: [name])
        let rpo = PreferenceObjective.evaluate(model: model, input: input, parameters: tracked, reference: reference, options: o)
        let nll = f.pairs.indices.reduce(0.0) { $0 - plain.policy[$1].chosen / Double(plain.policy[$1].chosenTokens) }
        assertNear(rpo.totals.loss, plain.totals.loss + 0.7 * nll, "loss with rpo_alpha")
        let g = tracked.gradients(of: try XCTUnwrap(rpo.surrogate))[name].scalars
        // Central difference of the total loss along weight 3 of the final norm (Float64 sums).
        var plus = p, minus = p
        let h: Float = 1e-2
        var w = p[name].scalars
        w[3] += h; plus[name] = Tensor(shape: p[name].shape, scalars: w)
        w[3] -= 2 * h; minus[name] = Tensor(shape: p[name].shape, scalars: w)
        let lp = PreferenceObjective.evaluate(model: model, input: input, parameters: plus, reference: reference, options: o).totals.loss
        let lm = PreferenceObjective.evaluate(model: model, input: input, parameters: minus, reference: reference, options: o).totals.loss
        XCTAssertEqual(Double(g[3]), (lp - lm) / Double(2 * h), accuracy: 2e-3 + 2e-2 * abs(Double(g[3])))
    }

    /// The closed-form derivatives of the pair loss against central differences (Float64).
    func test_pairLoss_derivatives_matchFiniteDifferences() {
        for (kind, eps) in [(PreferenceLossKind.sigmoid, 0.0), (.sigmoid, 0.25), (.ipo, 0.0)] {
            var o = PreferenceOptions()
            o.loss = kind
            o.beta = 0.3
            o.labelSmoothing = eps
            for (pc, pr) in [(-3.0, -5.0), (-7.5, -2.25), (-40.0, -41.0)] {
                let l = PreferencePairLoss(policyChosen: pc, policyRejected: pr, referenceChosen: -4, referenceRejected: -4.5, options: o)
                let h = 1e-5
                func f(_ c: Double, _ r: Double) -> Double {
                    PreferencePairLoss(policyChosen: c, policyRejected: r, referenceChosen: -4, referenceRejected: -4.5, options: o).loss
                }
                XCTAssertEqual(l.dChosen, (f(pc + h, pr) - f(pc - h, pr)) / (2 * h), accuracy: 1e-6, "\(kind) eps \(eps) d/dchosen")
                XCTAssertEqual(l.dRejected, (f(pc, pr + h) - f(pc, pr - h)) / (2 * h), accuracy: 1e-6, "\(kind) eps \(eps) d/drejected")
            }
        }
    }

    /// log sigmoid stays finite and accurate far in both tails.
    func test_pairLoss_extremeMargins_finite() {
        var o = PreferenceOptions()
        o.beta = 1
        let big = PreferencePairLoss(policyChosen: 0, policyRejected: -2000, referenceChosen: 0, referenceRejected: 0, options: o)
        XCTAssertEqual(big.loss, 0, accuracy: 1e-300)
        let bad = PreferencePairLoss(policyChosen: -2000, policyRejected: 0, referenceChosen: 0, referenceRejected: 0, options: o)
        XCTAssertEqual(bad.loss, 2000, accuracy: 1e-9)
        XCTAssertEqual(bad.dChosen, -1, accuracy: 1e-12)
    }

    /// The per-row target log-probability op against finite differences (the shared checker).
    func test_targetLogProbs_gradient_matchesFiniteDifferences() {
        let x = testTensor([5, 7], seed: 3, low: -2, high: 2)
        let targets: [Int32] = [3, -100, 0, 6, 2]
        checkGradients([x]) { t in Tensor.targetLogProbs(logits: t[0], targets: targets) }
    }
}
