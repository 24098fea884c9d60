import XCTest
import Autograd
import NN
import TestSupport

final class LoRATests: XCTestCase {
    /// Gradients of the adapted layer with respect to x, A, B, the base weight and bias,
    /// in both base layouts, against central differences.
    func test_loraLinear_bothLayouts_gradientsMatchFiniteDifferences() {
        let x = testTensor([2, 3, 6], seed: 1)
        for layout in [LinearLayout.outIn, .inOut] {
            var layer = Linear("fc", 6, 5, bias: true, layout: layout)
            layer.lora = LoRA(rank: 2, alpha: 3)
            let w = testTensor(layer.weightShape, seed: 2), b = testTensor([5], seed: 3)
            let a = testTensor([2, 6], seed: 4), bb = testTensor([5, 2], seed: 5)
            checkGradients([x, w, b, a, bb]) { t in
                let p = Parameters([("fc.weight", t[1]), ("fc.bias", t[2]), ("fc.lora_A.weight", t[3]), ("fc.lora_B.weight", t[4])])
                return layer(t[0], p)
            }
        }
    }

    /// Rank 1 and a size-1 batch: the smallest shapes still differentiate correctly.
    func test_loraLinear_rankOneSingleRow_gradients() {
        var layer = Linear("fc", 3, 4, bias: false)
        layer.lora = LoRA(rank: 1, alpha: 1)
        checkGradients([testTensor([1, 3], seed: 6), testTensor([1, 3], seed: 7), testTensor([4, 1], seed: 8)]) { t in
            layer(t[0], Parameters([("fc.weight", testTensor([4, 3], seed: 9)), ("fc.lora_A.weight", t[1]), ("fc.lora_B.weight", t[2])]))
        }
    }

    /// y = x Wᵀ + b + (alpha/r) x Aᵀ Bᵀ, written out with explicit transposes.
    func test_loraLinear_forward_equalsFormula() {
        var layer = Linear("fc", 4, 3, bias: true)
        layer.lora = LoRA(rank: 2, alpha: 6)
        let x = testTensor([5, 4], seed: 1), w = testTensor([3, 4], seed: 2), b = testTensor([3], seed: 3)
        let a = testTensor([2, 4], seed: 4), bb = testTensor([3, 2], seed: 5)
        let y = layer(x, Parameters([("fc.weight", w), ("fc.bias", b), ("fc.lora_A.weight", a), ("fc.lora_B.weight", bb)]))
        let expected = Tensor.matmul(x, w.transposed()) + b + Tensor.matmul(Tensor.matmul(x, a.transposed()), bb.transposed()) * 3
        assertClose(y, expected, atol: 1e-5)
    }

    /// Folding the adapter into the weight gives the adapted layer's output, in both layouts.
    func test_merged_bothLayouts_equalsAdaptedOutput() {
        let x = testTensor([4, 6], seed: 1)
        for layout in [LinearLayout.outIn, .inOut] {
            var layer = Linear("fc", 6, 5, bias: true, layout: layout)
            let lora = LoRA(rank: 3, alpha: 5)
            layer.lora = lora
            let w = testTensor(layer.weightShape, seed: 2), b = testTensor([5], seed: 3)
            let a = testTensor([3, 6], seed: 4), bb = testTensor([5, 3], seed: 5)
            let adapted = layer(x, Parameters([("fc.weight", w), ("fc.bias", b), ("fc.lora_A.weight", a), ("fc.lora_B.weight", bb)]))
            let merged = lora.merged(weight: w, a: a, b: bb, layout: layout)
            let plain = Linear("fc", 6, 5, bias: true, layout: layout)(x, Parameters([("fc.weight", merged), ("fc.bias", b)]))
            assertClose(plain, adapted, atol: 1e-5, rtol: 1e-5, "\(layout)")
        }
    }

    /// PEFT's init: B is zero (the adapted layer starts equal to the base), A is uniform in
    /// ±1/sqrt(in) and not constant.
    func test_initialAdapter_peftInit_bZeroAUniformBound() throws {
        let layer = Linear("fc", 64, 32, bias: false)
        var rng = RNG(seed: 3)
        let t = Dictionary(uniqueKeysWithValues: LoRA(rank: 4, alpha: 8).initialAdapter(of: layer, rng: &rng))
        let a = try XCTUnwrap(t["fc.lora_A.weight"]), b = try XCTUnwrap(t["fc.lora_B.weight"])
        XCTAssertEqual(a.shape, [4, 64])
        XCTAssertEqual(b.shape, [32, 4])
        XCTAssertTrue(b.scalars.allSatisfy { $0 == 0 })
        let bound: Float = 1 / 8
        XCTAssertTrue(a.scalars.allSatisfy { abs($0) <= bound })
        XCTAssertGreaterThan(a.scalars.map { abs($0) }.max()!, bound * 0.9)
        XCTAssertGreaterThan(Set(a.scalars).count, 200)
    }

    /// Adapter dropout draws from the generator only in training, and changes the output.
    func test_dropout_onlyWithGenerator() {
        var layer = Linear("fc", 8, 4, bias: false)
        layer.lora = LoRA(rank: 2, alpha: 2, dropout: 0.5)
        let p = Parameters([("fc.weight", testTensor([4, 8], seed: 1)), ("fc.lora_A.weight", testTensor([2, 8], seed: 2)),
                            ("fc.lora_B.weight", testTensor([4, 2], seed: 3))])
        let x = testTensor([3, 8], seed: 4)
        let eval1 = layer(x, p), eval2 = layer(x, p)
        XCTAssertEqual(eval1.scalars, eval2.scalars)
        var rng = RNG(seed: 9)
        let before = rng
        let train = withUnsafeMutablePointer(to: &rng) { layer(x, p, dropoutRNG: $0) }
        XCTAssertNotEqual(train.scalars, eval1.scalars)
        XCTAssertNotEqual(rng.nextUInt64(), { var r = before; return r.nextUInt64() }())
    }
}
