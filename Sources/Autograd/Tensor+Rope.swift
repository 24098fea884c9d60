import Foundation

/// Rotary position embeddings (RoPE) with explicit positions.
///
/// Each pair of channels `(a, b)` of a head is rotated by the angle `position * inv_freq[i]`,
/// `inv_freq[i] = theta^(-2i/D)` (computed in Float64, then rounded to Float32):
/// `a' = a cos - b sin`, `b' = a sin + b cos`. A rotation is orthogonal, so the backward
/// pass is the inverse rotation (by the negated angle) applied to the incoming gradient.
/// Positions are given per token, so packed rows restart at 0 for every example.
/// The angle is the Float32 product `Float(position) * inv_freq[i]` (as Hugging Face
/// computes it); its cosine and sine are evaluated in Float64 and rounded.

/// Which channels of a head form a rotated pair.
public enum RopeLayout: Sendable {
    /// Adjacent pairs `(x0, x1), (x2, x3), ...` with frequency index `i` for pair
    /// `(2i, 2i+1)`: llama2.c and Meta's original Llama code.
    case interleaved
    /// Rotate-half: pairs `(x_i, x_{i+D/2})` with frequency index `i`: Hugging Face's
    /// `rotate_half` convention.
    case halves
}

extension Tensor {
    /// Rotates the channels of every head of `x` [B, T, H, D] by its token's position.
    ///
    /// - Parameters:
    ///   - x: [B, T, H, D], D even.
    ///   - positions: B*T non-negative positions, token-major (`b * T + t`).
    ///   - theta: the frequency base (10000 for Llama 2, 500000 for Llama 3).
    ///   - layout: which channels pair up.
    /// - Returns: [B, T, H, D].
    public static func rope(_ x: Tensor, positions: [Int32], theta: Float = 10000,
                            layout: RopeLayout) -> Tensor {
        precondition(x.rank == 4, "rope: x must be [B, T, H, D], got \(x.shape)")
        let d = x.shape[3]
        precondition(d % 2 == 0, "rope: head size D must be even, got x \(x.shape)")
        precondition(positions.count == x.shape[0] * x.shape[1],
                     "rope: x \(x.shape) needs B*T = \(x.shape[0] * x.shape[1]) positions, got \(positions.count)")
        var minPosition = Int32.max, maxPosition: Int32 = 0
        for (i, p) in positions.enumerated() {
            precondition(p >= 0, "rope: position \(p) at token \(i) is negative")
            minPosition = Swift.min(minPosition, p)
            maxPosition = Swift.max(maxPosition, p)
        }
        // The table covers only the positions in use, so one decoding step at position 900
        // costs D trig calls, not 900 * D.
        let first = positions.isEmpty ? 0 : Int(minPosition)
        let table = ropeTable(positions: first...Int(maxPosition), headSize: d, theta: theta)
        let out = ropeRotate(x, positions: positions, table: table, firstPosition: first, layout: layout, inverse: false)
        guard anyTracked(x) else { return out }
        return out.recorded([x]) { g in
            [ropeBackward(g, positions: positions, table: table, firstPosition: first, layout: layout)]
        }
    }

    /// d(loss)/dx of `rope`: the inverse rotation of the gradient. Shape [B, T, H, D].
    static func ropeBackward(_ g: Tensor, positions: [Int32], table: Tensor, firstPosition: Int,
                             layout: RopeLayout) -> Tensor {
        ropeRotate(g, positions: positions, table: table, firstPosition: firstPosition, layout: layout, inverse: true)
    }

    /// Cosines and sines [P, D/2, 2] for the P positions of `range` (row 0 is `range.lowerBound`).
    static func ropeTable(positions range: ClosedRange<Int>, headSize d: Int, theta: Float) -> Tensor {
        let half = d / 2, p = range.count
        var invFreq = [Float](repeating: 0, count: half)
        for i in 0..<half {
            invFreq[i] = Float(Foundation.pow(Double(theta), -2 * Double(i) / Double(d)))
        }
        let table = Tensor.uninitialized([p, half, 2])
        let pt = table.storage.pointer
        for row in 0..<p {
            let pos = range.lowerBound + row
            for i in 0..<half {
                let angle = Double(Float(pos) * invFreq[i])
                pt[(row * half + i) * 2] = Float(Foundation.cos(angle))
                pt[(row * half + i) * 2 + 1] = Float(Foundation.sin(angle))
            }
        }
        return table
    }

    /// Rotates every head of `x` [B, T, H, D] by its token's angles (negated when `inverse`);
    /// row 0 of `table` holds position `firstPosition`.
    static func ropeRotate(_ x: Tensor, positions: [Int32], table: Tensor, firstPosition: Int, layout: RopeLayout,
                           inverse: Bool) -> Tensor {
        let h = x.shape[2], d = x.shape[3], half = d / 2
        let tokens = x.shape[0] * x.shape[1]
        let out = Tensor.uninitialized(x.shape)
        let px = x.storage.pointer, po = out.storage.pointer, pt = table.storage.pointer
        let sign: Float = inverse ? -1 : 1
        // Element strides of the first and second channel of pair i: (2i, 2i+1) or (i, i+D/2).
        let (pairStride, secondOffset) = layout == .interleaved ? (2, 1) : (1, half)
        positions.withUnsafeBufferPointer { pos in
            Parallel.forRanges(tokens, costPerElement: 4 * h * d) { range in
                for tok in range {
                    let cs = pt + (Int(pos[tok]) - firstPosition) * half * 2
                    for head in 0..<h {
                        let xr = px + (tok * h + head) * d, yr = po + (tok * h + head) * d
                        for i in 0..<half {
                            let c = cs[2 * i], s = sign * cs[2 * i + 1]
                            let ia = i * pairStride, ib = ia + secondOffset
                            let a = xr[ia], b = xr[ib]
                            yr[ia] = a * c - b * s
                            yr[ib] = a * s + b * c
                        }
                    }
                }
            }
        }
        return out
    }
}
