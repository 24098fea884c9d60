import Autograd
import NN
import TestSupport
import XCTest

/// In-place sums and scaling of parameter sets (the trainer's gradient accumulation, 1/count
/// scaling and clipping) give the same bits as the value-returning ops they replace, and
/// never write a tensor another set still shares.
final class ParametersTests: XCTestCase {
    func sets() -> (Parameters, Parameters) {
        let a = Parameters([("w", testTensor([300, 70], seed: 1)), ("b", testTensor([70], seed: 2)),
                            ("big", testTensor([1 << 19], seed: 3))])  // 2 MiB: a pooled buffer
        let b = Parameters([("w", testTensor([300, 70], seed: 4)), ("b", testTensor([70], seed: 5)),
                            ("big", testTensor([1 << 19], seed: 6)), ("extra", testTensor([3], seed: 7))])
        return (a, b)
    }

    func bits(_ p: Parameters) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: p.pairs.map { ($0.name, $0.tensor.scalars.map(\.bitPattern)) })
    }

    func test_add_inPlace_sameBitsAsAdding_andOtherSetsUntouched() {
        let (a, b) = sets()
        let before = bits(a)
        var sum = a
        sum.add(b)
        XCTAssertEqual(bits(sum), bits(a.adding(b)))
        XCTAssertEqual(sum.names, ["w", "b", "big", "extra"], "a name only in the other set is appended")
        XCTAssertEqual(bits(a), before, "a set sharing the storage keeps its values (copy on write)")
    }

    func test_scale_inPlace_sameBitsAsMultiplying() {
        let (a, _) = sets()
        let before = bits(a)
        var scaled = a
        scaled.scale(by: 1 / 3)
        XCTAssertEqual(bits(scaled), bits(a.mapTensors { _, t in t * (1 / Float(3)) }))
        XCTAssertEqual(bits(a), before)
    }

    func test_clip_inPlace_sameBitsAsBefore() {
        let (a, _) = sets()
        var clipped = a
        let norm = GradientClipping.clip(&clipped, maxNorm: 0.5)
        XCTAssertEqual(norm, GradientClipping.globalNorm(a))
        let scale = Float(0.5 / (norm + 1e-6))
        XCTAssertEqual(bits(clipped), bits(a.mapTensors { _, t in t * scale }))
        var unclipped = a
        _ = GradientClipping.clip(&unclipped, maxNorm: 1e9)
        XCTAssertEqual(bits(unclipped), bits(a))
    }
}
