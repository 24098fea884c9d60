import XCTest
import Autograd
import TestSupport

final class RopeTests: XCTestCase {
    /// Float64 rotation of x [B, T, H, D] with the given positions and layout, as in
    /// llama2.c (interleaved) or Hugging Face's rotate_half (halves). Frequencies are
    /// rounded to Float32 first, and the angle is their Float32 product with the position,
    /// matching the kernel's documented arithmetic; everything after is Float64.
    func reference(_ x: Tensor, positions: [Int32], theta: Double, layout: RopeLayout) -> Tensor {
        let (b, t, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let v = x.scalars
        var out = [Float](repeating: 0, count: v.count)
        for tok in 0..<(b * t) { for head in 0..<h {
            let base = (tok * h + head) * d
            for i in 0..<(d / 2) {
                let invFreq = Float(Foundation.pow(theta, -2 * Double(i) / Double(d)))
                let angle = Double(Float(positions[tok]) * invFreq)
                let (ia, ib) = layout == .interleaved ? (2 * i, 2 * i + 1) : (i, i + d / 2)
                let a = Double(v[base + ia]), bb = Double(v[base + ib])
                out[base + ia] = Float(a * Foundation.cos(angle) - bb * Foundation.sin(angle))
                out[base + ib] = Float(a * Foundation.sin(angle) + bb * Foundation.cos(angle))
            }
        } }
        return Tensor(shape: x.shape, scalars: out)
    }

    func test_rope_bothLayouts_matchFloat64Reference() {
        let x = testTensor([2, 5, 3, 8], seed: 1)
        // Packed rows: positions restart at 0 for the second example of each row.
        let positions: [Int32] = [0, 1, 2, 0, 1, 0, 1, 2, 3, 4]
        for layout in [RopeLayout.interleaved, .halves] {
            for theta: Float in [10000, 500000] {
                assertClose(Tensor.rope(x, positions: positions, theta: theta, layout: layout),
                            reference(x, positions: positions, theta: Double(theta), layout: layout),
                            atol: 1e-6, rtol: 1e-5, "\(layout) theta \(theta)")
            }
        }
    }

    func test_rope_largePositions_matchFloat64Reference() {
        let x = testTensor([1, 3, 2, 16], seed: 2)
        let positions: [Int32] = [4095, 1000, 77]
        for layout in [RopeLayout.interleaved, .halves] {
            assertClose(Tensor.rope(x, positions: positions, layout: layout),
                        reference(x, positions: positions, theta: 10000, layout: layout), atol: 2e-6, rtol: 1e-5)
        }
    }

    func test_rope_layoutsDifferAndPositionZeroIsIdentity() {
        let x = testTensor([1, 2, 1, 4], seed: 3)
        let pos: [Int32] = [0, 3]
        let a = Tensor.rope(x, positions: pos, layout: .interleaved), b = Tensor.rope(x, positions: pos, layout: .halves)
        XCTAssertEqual(Array(a.scalars[0..<4]), Array(x.scalars[0..<4]))
        XCTAssertEqual(Array(b.scalars[0..<4]), Array(x.scalars[0..<4]))
        XCTAssertNotEqual(Array(a.scalars[4..<8]), Array(b.scalars[4..<8]))
    }

    func test_rope_halvesLayout_isInterleavedOnPermutedChannels() {
        // Halves pairs (i, i+D/2); moving channel i to 2i and i+D/2 to 2i+1 turns it into
        // the interleaved layout. Checks the two conventions against each other.
        let d = 6
        let x = testTensor([1, 4, 2, d], seed: 4)
        let pos: [Int32] = [0, 1, 5, 9]
        let perm = (0..<d).map { $0 % 2 == 0 ? $0 / 2 : $0 / 2 + d / 2 }  // interleaved slot -> halves channel
        func permute(_ t: Tensor, toInterleaved: Bool) -> Tensor {
            var out = [Float](repeating: 0, count: t.count)
            let v = t.scalars
            for row in 0..<(t.count / d) { for s in 0..<d {
                if toInterleaved { out[row * d + s] = v[row * d + perm[s]] } else { out[row * d + perm[s]] = v[row * d + s] }
            } }
            return Tensor(shape: t.shape, scalars: out)
        }
        let viaHalves = Tensor.rope(x, positions: pos, layout: .halves)
        let viaInterleaved = permute(Tensor.rope(permute(x, toInterleaved: true), positions: pos, layout: .interleaved),
                                     toInterleaved: false)
        assertClose(viaHalves, viaInterleaved, atol: 0, rtol: 0)
    }

    func test_rope_gradients_bothLayouts_includingSizeOneShapes() {
        let cases: [([Int], [Int32])] = [([2, 3, 2, 4], [0, 1, 2, 0, 1, 7]), ([1, 1, 1, 2], [3]), ([1, 4, 3, 6], [5, 0, 1, 2])]
        for (shape, positions) in cases {
            for layout in [RopeLayout.interleaved, .halves] {
                checkGradients([testTensor(shape, seed: 5)]) { Tensor.rope($0[0], positions: positions, layout: layout) }
            }
        }
    }
}
