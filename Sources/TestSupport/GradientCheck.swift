import Autograd
import XCTest

/// Finite-difference gradient checking, shared by every op's test.
///
/// The checked function may return any shape; it is reduced to a scalar
/// `L = sum(f(x) * R)` with a fixed random projection `R`, so every output element
/// contributes with a different weight (a plain sum would hide errors that cancel,
/// as in softmax whose rows always sum to 1). The analytic gradient of `L` comes from
/// `gradients(of:wrt:)`; the numeric one from central differences
/// `(L(x + h) - L(x - h)) / 2h`, with `L` accumulated in Float64 from the Float32
/// forward pass. With `h = 1e-2` the truncation error is O(h^2 f''') ~ 1e-4 and the
/// rounding error about 1e-7 |L| / h, so the default tolerance is
/// `|analytic - numeric| <= 2e-3 + 2e-2 |numeric|` per element.
public struct GradientCheckOptions {
    public var step: Float
    public var absoluteTolerance: Double
    public var relativeTolerance: Double
    public var seed: UInt64
    public init(step: Float = 1e-2, absoluteTolerance: Double = 2e-3, relativeTolerance: Double = 2e-2, seed: UInt64 = 1234) {
        self.step = step
        self.absoluteTolerance = absoluteTolerance
        self.relativeTolerance = relativeTolerance
        self.seed = seed
    }
}

/// Checks the gradients of `f` with respect to every tensor in `inputs` against
/// central differences; records an XCTest failure naming the input, element, and both
/// values for the first few mismatches. Returns the largest absolute difference seen.
@discardableResult
public func checkGradients(_ inputs: [Tensor],
                           options: GradientCheckOptions = GradientCheckOptions(),
                           file: StaticString = #filePath, line: UInt = #line,
                           _ f: ([Tensor]) -> Tensor) -> Double {
    let probe = f(inputs.map { $0.detached })
    var rng = RNG(seed: options.seed)
    let projection = Tensor.randomUniform(probe.shape, low: -1, high: 1, rng: &rng)
    let weights = projection.scalars

    func loss(_ xs: [Tensor]) -> Double {
        let y = f(xs).scalars
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(weights[i]) }
        return s
    }

    let tracked = inputs.map { $0.trackingGradients() }
    let y = f(tracked)
    XCTAssertEqual(y.shape, probe.shape, "gradient check: tracked and untracked forward shapes differ", file: file, line: line)
    let scalarLoss = (y * projection).sum()
    let analytic = gradients(of: scalarLoss, wrt: tracked)

    var worst = 0.0
    var failures = 0
    for (which, input) in inputs.enumerated() {
        XCTAssertEqual(analytic[which].shape, input.shape, "gradient shape for input \(which)", file: file, line: line)
        let a = analytic[which].scalars
        for i in 0..<input.count {
            var plus = inputs.map { $0.detached }
            var minus = plus
            let x = input[flat: i]
            plus[which][flat: i] = x + options.step
            minus[which][flat: i] = x - options.step
            let h = Double((x + options.step) - (x - options.step))
            let numeric = (loss(plus) - loss(minus)) / h
            let diff = abs(Double(a[i]) - numeric)
            worst = max(worst, diff)
            if diff > options.absoluteTolerance + options.relativeTolerance * abs(numeric) {
                failures += 1
                if failures <= 5 {
                    XCTFail("gradient mismatch: input \(which) (shape \(input.shape)) element \(i): analytic \(a[i]), numeric \(numeric)",
                            file: file, line: line)
                }
            }
        }
    }
    if failures > 5 {
        XCTFail("gradient check: \(failures) mismatching elements in all", file: file, line: line)
    }
    return worst
}

/// Asserts two tensors have the same shape and elements within `atol + rtol * |expected|`.
public func assertClose(_ actual: Tensor, _ expected: Tensor, atol: Float = 1e-5, rtol: Float = 1e-5,
                        _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message)", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let a = actual.scalars, e = expected.scalars
    var failures = 0
    for i in 0..<a.count where !(abs(a[i] - e[i]) <= atol + rtol * abs(e[i])) {
        failures += 1
        if failures <= 5 {
            XCTFail("element \(i): \(a[i]) vs expected \(e[i]) \(message)", file: file, line: line)
        }
    }
    if failures > 5 { XCTFail("\(failures) elements differ \(message)", file: file, line: line) }
}

/// A tensor of uniform values in [low, high) from a fixed seed, for tests.
public func testTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var rng = RNG(seed: seed)
    return Tensor.randomUniform(shape, low: low, high: high, rng: &rng)
}
