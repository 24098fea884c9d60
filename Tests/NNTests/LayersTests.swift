import XCTest
import Autograd
import NN
import TestSupport

final class LayersTests: XCTestCase {
    func test_linear_bothLayouts_gradients() {
        let x = testTensor([2, 3, 4], seed: 1)
        for layout in [LinearLayout.outIn, .inOut] {
            for bias in [true, false] {
                let layer = Linear("fc", 4, 5, bias: bias, layout: layout)
                let w = testTensor(layer.weightShape, seed: 2)
                let b = testTensor([5], seed: 3)
                checkGradients(bias ? [x, w, b] : [x, w]) { t in
                    var p = Parameters()
                    p["fc.weight"] = t[1]
                    if bias { p["fc.bias"] = t[2] }
                    return layer(t[0], p)
                }
            }
        }
    }

    func test_linear_outInLayout_equalsExplicitTranspose() {
        let x = testTensor([3, 4], seed: 4), w = testTensor([5, 4], seed: 5), b = testTensor([5], seed: 6)
        let p = Parameters([("fc.weight", w), ("fc.bias", b)])
        let y = Linear("fc", 4, 5, bias: true)(x, p)
        assertClose(y, Tensor.matmul(x, w.transposed()) + b, atol: 1e-6)
    }

    func test_parameters_trackedOnly_freezesTheRest() {
        let p = Parameters([("a", testTensor([2], seed: 1)), ("b", testTensor([2], seed: 2))])
        let t = p.tracked(only: ["a"])
        let loss = (t["a"] * t["b"]).sum()
        let g = t.gradients(of: loss)
        XCTAssertEqual(g.names, ["a"])
        XCTAssertEqual(g["a"].scalars, p["b"].scalars)
    }
}

final class OptimizerTests: XCTestCase {
    /// AdamW against a Float64 transcription of torch.optim.AdamW for three steps,
    /// with weight decay on one parameter and not the other.
    func test_adamW_threeSteps_matchesFloat64Reference() {
        var params = Parameters([("w", Tensor(shape: [3], scalars: [0.5, -1, 2])), ("b", Tensor(shape: [2], scalars: [0.1, -0.2]))])
        let gradsSeq: [[String: [Float]]] = [["w": [0.1, -0.2, 0.3], "b": [1, -1]],
                                             ["w": [-0.05, 0.4, 0.0], "b": [0.5, 0.25]],
                                             ["w": [0.2, 0.2, -0.1], "b": [-2, 0.1]]]
        var opt = AdamW(beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let lrs: [Float] = [1e-2, 5e-3, 2e-3]
        // Float64 reference.
        var ref: [String: [Double]] = ["w": [0.5, -1, 2], "b": [0.1, -0.2]]
        var m: [String: [Double]] = ["w": [0, 0, 0], "b": [0, 0]], v = m
        for (t, gs) in gradsSeq.enumerated() {
            let lr = Double(lrs[t])
            for name in ["w", "b"] {
                let wd = name == "w" ? 0.1 : 0.0
                for i in 0..<ref[name]!.count {
                    let g = Double(gs[name]![i])
                    ref[name]![i] *= (1 - lr * wd)
                    m[name]![i] = 0.9 * m[name]![i] + 0.1 * g
                    v[name]![i] = 0.95 * v[name]![i] + 0.05 * g * g
                    let mh = m[name]![i] / (1 - pow(0.9, Double(t + 1)))
                    let vh = v[name]![i] / (1 - pow(0.95, Double(t + 1)))
                    ref[name]![i] -= lr * mh / (vh.squareRoot() + 1e-8)
                }
            }
            let grads = Parameters(["w", "b"].map { ($0, Tensor(shape: [gs[$0]!.count], scalars: gs[$0]!)) })
            opt.update(&params, grads: grads, lr: lrs[t], decays: { $0 == "w" })
        }
        XCTAssertEqual(opt.step, 3)
        for name in ["w", "b"] {
            for (a, e) in zip(params[name].scalars, ref[name]!) { XCTAssertEqual(Double(a), e, accuracy: 2e-6) }
        }
    }

    /// 19 elements: two eight-lane blocks and a three-element scalar tail. Equal inputs must
    /// give equal bits in both paths, and every element must match the Float64 formula.
    func test_adamW_eightLaneAndTailPaths_agree() {
        let n = 19
        let p0 = (0..<n).map { Float($0 % 5) * 0.25 - 0.5 }, g0 = (0..<n).map { Float(($0 * 7) % 5) * 0.1 - 0.2 }
        var params = Parameters([("w", Tensor(shape: [n], scalars: p0))])
        var opt = AdamW(beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1)
        for _ in 0..<2 { opt.update(&params, grads: Parameters([("w", Tensor(shape: [n], scalars: g0))]), lr: 1e-2, decays: { _ in true }) }
        let out = params["w"].scalars
        for i in 0..<n {
            // Elements 0..<15 run in the eight-lane path; 16, 17, 18 in the tail.
            for j in 0..<n where p0[j] == p0[i] && g0[j] == g0[i] {
                XCTAssertEqual(out[i].bitPattern, out[j].bitPattern, "elements \(i) and \(j) had equal inputs")
            }
            var p = Double(p0[i]), m = 0.0, v = 0.0
            let g = Double(g0[i])
            for t in 1...2 {
                p *= 1 - 1e-2 * 0.1
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                p -= 1e-2 * (m / (1 - pow(0.9, Double(t)))) / ((v / (1 - pow(0.999, Double(t)))).squareRoot() + 1e-8)
            }
            XCTAssertEqual(Double(out[i]), p, accuracy: 2e-6, "element \(i)")
        }
    }

    func test_adamW_updatesInPlace_withoutCopyingUniqueWeights() {
        var params = Parameters([("w", Tensor.zeros([1000]))])
        var opt = AdamW()
        opt.update(&params, grads: Parameters([("w", Tensor.ones([1000]))]), lr: 0.1, decays: { _ in true })
        let before = params["w"]
        _ = before  // a second reference forces copy-on-write; the store must stay correct
        opt.update(&params, grads: Parameters([("w", Tensor.ones([1000]))]), lr: 0.1, decays: { _ in true })
        XCTAssertNotEqual(before.scalars[0], params["w"].scalars[0], "the held copy must keep its old value")
    }

    func test_schedules_warmupDecayAndFloor() {
        let cos = LRSchedule(kind: .cosine, lr: 1, minLR: 0.1, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(cos.rate(at: 0), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(at: 9), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(at: 10), 1, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(at: 60), 0.55, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(at: 110), 0.1, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(at: 500), 0.1, accuracy: 1e-12)
        let lin = LRSchedule(kind: .linear, lr: 2, minLR: 0, warmupSteps: 0, totalSteps: 100)
        XCTAssertEqual(lin.rate(at: 50), 1, accuracy: 1e-12)
        let const = LRSchedule(kind: .constant, lr: 3, warmupSteps: 2, totalSteps: 10)
        XCTAssertEqual(const.rate(at: 0), 1.5, accuracy: 1e-12)
        XCTAssertEqual(const.rate(at: 9), 3, accuracy: 1e-12)
    }

    func test_clipping_scalesToMaxNormAndReportsNormBefore() {
        var g = Parameters([("a", Tensor(shape: [2], scalars: [3, 0])), ("b", Tensor(shape: [1], scalars: [4]))])
        let norm = GradientClipping.clip(&g, maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-9)
        XCTAssertEqual(GradientClipping.globalNorm(g), 1, accuracy: 1e-5)
        var small = Parameters([("a", Tensor(shape: [1], scalars: [0.5]))])
        XCTAssertEqual(GradientClipping.clip(&small, maxNorm: 1), 0.5, accuracy: 1e-9)
        XCTAssertEqual(small["a"].scalars, [0.5])
    }
}
