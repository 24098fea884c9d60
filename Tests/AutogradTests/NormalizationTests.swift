import XCTest
import Autograd
import TestSupport

final class NormalizationTests: XCTestCase {
    /// Float64 reference of PyTorch's LayerNorm (biased variance) or, without `bias`
    /// and with `rms`, Llama's RMSNorm `x * rsqrt(mean(x^2) + eps) * w`.
    func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?, eps: Double, rms: Bool) -> Tensor {
        let c = x.shape[x.rank - 1], v = x.scalars.map(Double.init)
        let wv = w.scalars.map(Double.init), bv = b?.scalars.map(Double.init)
        var out = [Float](repeating: 0, count: v.count)
        for r in 0..<(v.count / c) {
            let row = Array(v[(r * c)..<((r + 1) * c)])
            let mean = rms ? 0 : row.reduce(0, +) / Double(c)
            let variance = row.reduce(0.0) { $0 + ($1 - mean) * ($1 - mean) } / Double(c)
            let rstd = 1 / (variance + eps).squareRoot()
            for j in 0..<c { out[r * c + j] = Float((row[j] - mean) * rstd * wv[j] + (bv?[j] ?? 0)) }
        }
        return Tensor(shape: x.shape, scalars: out)
    }

    func test_layerNorm_matchesFloat64Reference() {
        for shape in [[4, 8], [2, 3, 5], [1, 1], [3, 1], [1, 64]] {
            let c = shape.last!
            let x = testTensor(shape, seed: 1, low: -3, high: 5)
            let w = testTensor([c], seed: 2, low: 0.5, high: 1.5), b = testTensor([c], seed: 3)
            assertClose(Tensor.layerNorm(x, w, b), reference(x, w, b, eps: 1e-5, rms: false),
                        atol: 2e-5, rtol: 1e-5, "layerNorm \(shape)")
            assertClose(Tensor.layerNorm(x, w, b, eps: 0.1), reference(x, w, b, eps: 0.1, rms: false),
                        atol: 2e-5, rtol: 1e-5, "layerNorm eps 0.1 \(shape)")
        }
    }

    func test_rmsNorm_matchesFloat64Reference() {
        for shape in [[4, 8], [2, 3, 5], [1, 1], [3, 1], [1, 64]] {
            let c = shape.last!
            let x = testTensor(shape, seed: 4, low: -3, high: 5)
            let w = testTensor([c], seed: 5, low: 0.5, high: 1.5)
            assertClose(Tensor.rmsNorm(x, w), reference(x, w, nil, eps: 1e-5, rms: true),
                        atol: 2e-5, rtol: 1e-5, "rmsNorm \(shape)")
            assertClose(Tensor.rmsNorm(x, w, eps: 1e-6), reference(x, w, nil, eps: 1e-6, rms: true),
                        atol: 2e-5, rtol: 1e-5, "rmsNorm eps 1e-6 \(shape)")
        }
    }

    func test_layerNorm_largeOffset_meanRemovedAccurately() {
        // Rows around 1000 with spread 1: the two-pass variance must not cancel.
        let x = testTensor([3, 16], seed: 6, low: 999, high: 1001)
        let w = Tensor.ones([16]), b = Tensor.zeros([16])
        assertClose(Tensor.layerNorm(x, w, b), reference(x, w, b, eps: 1e-5, rms: false), atol: 2e-3, rtol: 1e-3)
    }

    func test_layerNorm_gradients_allInputs_includingSizeOneAndNonSquare() {
        // Size-1 channels: the normalised value is 0, so only the bias carries a gradient;
        // the finite differences check that too.
        for shape in [[3, 5], [1, 1], [4, 1], [1, 7], [2, 3, 4]] {
            let c = shape.last!
            let x = testTensor(shape, seed: 7, low: -2, high: 2)
            let w = testTensor([c], seed: 8, low: 0.5, high: 1.5), b = testTensor([c], seed: 9)
            checkGradients([x, w, b]) { Tensor.layerNorm($0[0], $0[1], $0[2]) }
        }
    }

    func test_rmsNorm_gradients_allInputs_includingSizeOneAndNonSquare() {
        for shape in [[3, 5], [1, 1], [4, 1], [1, 7], [2, 3, 4]] {
            let c = shape.last!
            let x = testTensor(shape, seed: 10, low: 0.2, high: 2)
            let w = testTensor([c], seed: 11, low: 0.5, high: 1.5)
            checkGradients([x, w]) { Tensor.rmsNorm($0[0], $0[1]) }
        }
    }

    func test_norms_manyRows_parallelBlocksGiveSameGradientsAsSerialSums() {
        // 300 rows span several reduction blocks; dweight and dbias must equal the Float64
        // sums over rows of g * xhat and g.
        let n = 300, c = 40
        let x = testTensor([n, c], seed: 12), w = testTensor([c], seed: 13), b = testTensor([c], seed: 14)
        let g = testTensor([n, c], seed: 15)
        let (_, grads) = valueAndGradients(at: [x, w, b]) { (Tensor.layerNorm($0[0], $0[1], $0[2]) * g).sum() }
        let xhat = reference(x, Tensor.ones([c]), nil, eps: 1e-5, rms: false).scalars
        var dw = [Double](repeating: 0, count: c), db = [Double](repeating: 0, count: c)
        for r in 0..<n { for j in 0..<c {
            dw[j] += Double(g[flat: r * c + j]) * Double(xhat[r * c + j])
            db[j] += Double(g[flat: r * c + j])
        } }
        assertClose(grads[1], Tensor(shape: [c], scalars: dw.map(Float.init)), atol: 1e-4, rtol: 1e-4)
        assertClose(grads[2], Tensor(shape: [c], scalars: db.map(Float.init)), atol: 1e-4, rtol: 1e-4)
        // And the whole thing again gives identical bits (deterministic reduction).
        let (_, again) = valueAndGradients(at: [x, w, b]) { (Tensor.layerNorm($0[0], $0[1], $0[2]) * g).sum() }
        for i in 0..<3 { XCTAssertEqual(grads[i].scalars, again[i].scalars) }
    }

    func test_norms_onlyWeightTracked_givesWeightGradient() {
        let x = testTensor([3, 4], seed: 16), w = testTensor([4], seed: 17)
        let xt = x, wt = w.trackingGradients()
        let y = Tensor.rmsNorm(xt, wt).sum()
        let dw = gradients(of: y, wrt: [wt])[0]
        let xhat = reference(x, Tensor.ones([4]), nil, eps: 1e-5, rms: true).scalars
        var expected = [Float](repeating: 0, count: 4)
        for r in 0..<3 { for j in 0..<4 { expected[j] += xhat[r * 4 + j] } }
        assertClose(dw, Tensor(shape: [4], scalars: expected), atol: 1e-5, rtol: 1e-5)
    }

    func test_layerNorm_onlyBiasTracked_givesRowSumOfUpstream() {
        let x = testTensor([3, 4], seed: 18), w = testTensor([4], seed: 19), b = testTensor([4], seed: 20)
        let g = testTensor([3, 4], seed: 21)
        let bt = b.trackingGradients()
        let db = gradients(of: (Tensor.layerNorm(x, w, bt) * g).sum(), wrt: [bt])[0]
        assertClose(db, g.sum(axis: 0), atol: 1e-6, rtol: 1e-6)
    }
}
