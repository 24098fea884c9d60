import Autograd
@testable import Checkpoints
import XCTest

/// The decoding kernels' Q8_0 (Autograd's `Q8_0Matrix`) against the GGUF writer's and reader's
/// Q8_0, so a matrix quantized at load has the bytes `instruct export --gguf-type q8_0` writes.
final class Q8_0MatrixTests: XCTestCase {
    func test_q8_0Matrix_quantizing_sameBytesAndValuesAsGGUFQuantization() {
        var rng = RNG(seed: 4)
        let values = (0..<(6 * 64)).map { i in (rng.nextFloat() * 2 - 1) * Float([1e-4, 1, 30][i / 64 % 3]) }
        let t = Tensor(shape: [6, 64], scalars: values)
        let m = Q8_0Matrix(quantizing: t)
        let gguf = values.withUnsafeBufferPointer { GGUFQuantization.quantize($0, as: .q8_0) }
        XCTAssertEqual(m.bytes, gguf)
        var back = [Float](repeating: 0, count: values.count)
        back.withUnsafeMutableBufferPointer { out in
            gguf.withUnsafeBytes { GGUFQuantization.dequantize($0, type: .q8_0, count: values.count, into: out.baseAddress!) }
        }
        XCTAssertEqual(m.dequantized().withUnsafeBufferPointer(Array.init), back)
    }
}
