import XCTest
import Autograd
import TestSupport

final class ReduceShapeTests: XCTestCase {
    func test_sumAndMean_overAxes_gradients() {
        let x = testTensor([2, 3, 4], seed: 21)
        checkGradients([x]) { $0[0].sum(axis: 1) }
        checkGradients([x]) { $0[0].sum(axis: -1, keepDims: true) }
        checkGradients([x]) { $0[0].sum(axes: [0, 2]) }
        checkGradients([x]) { $0[0].mean(axis: 0) }
        checkGradients([x]) { $0[0].mean(axes: [1, 2], keepDims: true) }
        checkGradients([x]) { $0[0].sum() }
        checkGradients([x]) { $0[0].mean() }
        checkGradients([testTensor([1, 1], seed: 3)]) { $0[0].sum(axis: 0) }
    }

    func test_sum_matchesFloat64Loop() {
        let x = testTensor([3, 4, 5], seed: 22)
        let s = x.sum(axis: 1)
        for i in 0..<3 { for k in 0..<5 {
            var acc = 0.0
            for j in 0..<4 { acc += Double(x[flat: (i * 4 + j) * 5 + k]) }
            XCTAssertEqual(Double(s[flat: i * 5 + k]), acc, accuracy: 1e-6)
        } }
    }

    func test_max_lastAxis_valuesAndGradient() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 2, -1, -3, -2])
        XCTAssertEqual(x.max().scalars, [5, -1])
        checkGradients([testTensor([3, 4], seed: 23)]) { $0[0].max() }
        checkGradients([testTensor([2, 1], seed: 24)]) { $0[0].max() }
    }

    func test_reshape_sharesStorage_andGradient() {
        let x = testTensor([2, 6], seed: 25)
        let y = x.reshaped([3, -1])
        XCTAssertEqual(y.shape, [3, 4])
        XCTAssertTrue(y.sharesStorage(with: x))
        checkGradients([x]) { $0[0].reshaped([4, 3]) * Tensor(shape: [3], scalars: [1, 2, 3]) }
    }

    func test_permute_matchesIndexLoop_andGradient() {
        let x = testTensor([2, 3, 4], seed: 26)
        let y = x.permuted([2, 0, 1])
        XCTAssertEqual(y.shape, [4, 2, 3])
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            XCTAssertEqual(y[flat: (k * 2 + i) * 3 + j], x[flat: (i * 3 + j) * 4 + k])
        } } }
        checkGradients([x]) { $0[0].permuted([1, 2, 0]) }
        checkGradients([x]) { $0[0].transposed() }
        checkGradients([testTensor([3, 1, 2], seed: 27)]) { $0[0].transposed(0, 2) }
    }

    func test_slice_concat_split_gradients() {
        let x = testTensor([3, 5, 2], seed: 28)
        checkGradients([x]) { $0[0].slice(axis: 1, 1..<4) }
        checkGradients([x]) { $0[0].slice(axis: 0, 2..<3) }
        checkGradients([x, testTensor([3, 2, 2], seed: 29)]) { Tensor.concatenate([$0[0], $0[1]], axis: 1) }
        checkGradients([x, testTensor([1, 5, 2], seed: 30)]) { Tensor.concatenate([$0[1], $0[0], $0[1]], axis: 0) }
        checkGradients([x]) { t in
            let parts = t[0].split(axis: 1, sizes: [2, 0, 3])
            return parts[0].sum(axis: 1) * parts[2].sum(axis: 1)
        }
    }

    func test_concatenate_thenSplit_roundTrips() {
        let a = testTensor([2, 3], seed: 31), b = testTensor([2, 4], seed: 32)
        let parts = Tensor.concatenate([a, b], axis: 1).split(axis: 1, sizes: [3, 4])
        XCTAssertEqual(parts[0].scalars, a.scalars)
        XCTAssertEqual(parts[1].scalars, b.scalars)
    }

    func test_gatherRows_valuesAndScatterAddGradient() {
        let table = testTensor([5, 3], seed: 33)
        let ids: [Int32] = [4, 0, 4, 2]
        let y = Tensor.gatherRows(table, indices: ids, indexShape: [2, 2])
        XCTAssertEqual(y.shape, [2, 2, 3])
        XCTAssertEqual(Array(y.scalars[0..<3]), Array(table.scalars[12..<15]))
        checkGradients([table]) { Tensor.gatherRows($0[0], indices: ids) }
    }

    func test_dropout_sameSeedSameMask_andScaledGradient() {
        let x = testTensor([4, 8], seed: 34)
        var r1 = RNG(seed: 5), r2 = RNG(seed: 5)
        let a = x.dropout(0.25, rng: &r1), b = x.dropout(0.25, rng: &r2)
        XCTAssertEqual(a.scalars, b.scalars)
        let zeros = a.scalars.filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, 0)
        XCTAssertLessThan(zeros, 32)
        var r3 = RNG(seed: 5)
        checkGradients([x]) { t in var r = r3; return t[0].dropout(0.25, rng: &r) }
        _ = r3.nextFloat()
    }
}
