import XCTest
@testable import Autograd
import Foundation

final class VectorExpTests: XCTestCase {
    func test_vectorExp_denseRange_within2ulpOfFloat64() {
        var worst = 0.0
        var x: Float = -86.9
        while x < 87.9 {
            let got = Double(VectorExp.exp(x)), want = Foundation.exp(Double(x))
            let ulp = Double(Float(want).ulp)
            worst = max(worst, abs(got - want) / ulp)
            x += 0.00731
        }
        XCTAssertLessThanOrEqual(worst, 2.5, "worst error \(worst) ulp")
    }

    func test_vectorExp_specialValues() {
        XCTAssertEqual(VectorExp.exp(0), 1)
        XCTAssertEqual(VectorExp.exp(-Float.infinity), 0)
        XCTAssertEqual(VectorExp.exp(-100), 0)
        XCTAssertEqual(VectorExp.exp(-2e4), 0)
        XCTAssertEqual(VectorExp.exp(Float.infinity), .infinity)
        XCTAssertEqual(VectorExp.exp(100), .infinity)
        XCTAssertTrue(VectorExp.exp(.nan).isNaN)
        XCTAssertEqual(Double(VectorExp.exp(-87)), Foundation.exp(-87.0), accuracy: 1e-44)
    }

    func test_expShifted_andMax_allTailLengths_matchFloat64() {
        for count in [0, 1, 7, 8, 9, 16, 17, 31] {
            let src = (0..<count).map { Float(sin(Double($0) * 1.7)) * 5 }
            var dst = [Float](repeating: -1, count: count + 1)  // one guard element past the end
            let m = src.withUnsafeBufferPointer { VectorExp.max($0.baseAddress!, count: count) }
            XCTAssertEqual(m, src.max() ?? -.infinity, "count \(count)")
            let sum = src.withUnsafeBufferPointer { s in
                dst.withUnsafeMutableBufferPointer { d in
                    VectorExp.expShifted(s.baseAddress!, d.baseAddress!, count: count, a: 0.5, b: 0.25, scale: 3)
                }
            }
            var want = 0.0
            for j in 0..<count {
                let e = Foundation.exp((Double(src[j]) - 0.5) - 0.25)
                want += e
                XCTAssertEqual(Double(dst[j]), 3 * e, accuracy: 3e-6 * e, "count \(count) element \(j)")
            }
            XCTAssertEqual(Double(sum), want, accuracy: 1e-6 * max(want, 1), "count \(count)")
            XCTAssertEqual(dst[count], -1, "wrote past the end, count \(count)")
        }
    }
}
