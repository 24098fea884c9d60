import XCTest
@testable import Autograd
import TestSupport

/// The gradient checker must catch wrong backward rules, or every gradient test that
/// relies on it proves nothing.
final class GradientCheckTests: XCTestCase {
    /// y = x^2 elementwise, with a backward rule `g * factor * x` (correct for factor 2).
    func square(_ x: Tensor, backwardFactor: Float) -> Tensor {
        let out = Tensor(shape: x.shape, scalars: x.scalars.map { $0 * $0 })
        guard x.isTracked else { return out }
        let xs = x.detached
        return out.recorded([x]) { g in
            [Tensor(shape: xs.shape, scalars: zip(g.scalars, xs.scalars).map { $0 * backwardFactor * $1 })]
        }
    }

    func test_gradientCheck_correctBackward_reportsNoMismatch() {
        let x = testTensor([3, 4], seed: 1)
        let report = gradientCheckReport([x]) { square($0[0], backwardFactor: 2) }
        XCTAssertEqual(report.mismatches, 0, "\(report.firstMismatches)")
        XCTAssertEqual(report.checkedElements, 12)
    }

    func test_gradientCheck_wrongBackward_isCaught() {
        let x = testTensor([3, 4], seed: 1, low: 0.5, high: 1.5)
        let report = gradientCheckReport([x]) { square($0[0], backwardFactor: 2.2) }
        // Off by 10%: every element misses the 2% relative tolerance unless its random
        // projection weight is so small that the error falls under the 2e-3 absolute one.
        XCTAssertGreaterThanOrEqual(report.mismatches, 10)
        XCTAssertGreaterThan(report.worstDifference, 0.05)
        XCTAssertFalse(report.firstMismatches.isEmpty)
    }

    func test_gradientCheck_wrongBackwardInOneInput_isCaught() {
        // A product whose backward forgets one factor for the second input.
        let a = testTensor([2, 3], seed: 2, low: 0.5, high: 2), b = testTensor([2, 3], seed: 3, low: 0.5, high: 2)
        func badProduct(_ a: Tensor, _ b: Tensor) -> Tensor {
            let out = Tensor(shape: a.shape, scalars: zip(a.scalars, b.scalars).map { $0 * $1 })
            let bd = b.detached
            return out.recorded([a, b]) { g in [g * bd, g] }  // second should be g * ad
        }
        let report = gradientCheckReport([a, b]) { badProduct($0[0], $0[1]) }
        XCTAssertGreaterThan(report.mismatches, 0)
        XCTAssertTrue(report.firstMismatches.allSatisfy { $0.hasPrefix("input 1") }, "\(report.firstMismatches)")
    }
}
