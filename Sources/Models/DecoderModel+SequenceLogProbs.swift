import Autograd
import NN

/// Summed log-probabilities of the counted targets of each example (segment) of each row:
/// what preference losses (DPO, IPO) compare between a chosen and a rejected response.
public struct SegmentLogProbs {
    /// S: segments read per row (segment ids 1...S; 0 is padding).
    public let segmentsPerRow: Int
    /// `sum over t in segment s of row b, target counted: log p(target_t | tokens <= t)`,
    /// flat [B*S] at `b * S + (s - 1)`. Differentiable with respect to the tracked parameters.
    public let sums: Tensor
    /// Counted targets behind each sum, [B*S].
    public let counts: [Int]
}

extension DecoderModel {
    /// Per-segment summed target log-probabilities of `input` (segments 1...`segmentsPerRow`
    /// of every row; a counted target in a higher segment traps).
    ///
    /// Only counted rows go through the head, as in `loss`. The per-row log-probabilities
    /// [K] are summed into their segments with one product by a 0/1 matrix [B*S, K], so the
    /// gradient of any weighted sum of the result flows back through the same graph. A
    /// segment with no counted target sums to 0 (count 0). Float32 throughout; the sum over a
    /// segment's targets is the BLAS dot product's. `checkpointing` as in `loss`.
    public func segmentLogProbs(_ input: ModelInput, segmentsPerRow: Int, parameters p: Parameters,
                                dropoutRNG: UnsafeMutablePointer<RNG>? = nil, checkpointing: Bool = false) -> SegmentLogProbs {
        let x = input
        precondition(segmentsPerRow >= 1, "segmentLogProbs: segmentsPerRow must be >= 1, got \(segmentsPerRow)")
        precondition(x.targets.count == x.batch * x.time, "segmentLogProbs: the input has no targets")
        var rows: [Int32] = []
        var slot: [Int] = []  // the (b, s) slot of each counted row
        var counts = [Int](repeating: 0, count: x.batch * segmentsPerRow)
        for (i, t) in x.targets.enumerated() where t != x.ignoreIndex {
            let s = Int(x.segmentIDs[i])
            precondition(s >= 1 && s <= segmentsPerRow,
                         "segmentLogProbs: counted target at flat position \(i) is in segment \(s), outside 1...\(segmentsPerRow)")
            rows.append(Int32(i))
            let k = (i / x.time) * segmentsPerRow + (s - 1)
            slot.append(k)
            counts[k] += 1
        }
        let slots = x.batch * segmentsPerRow
        guard !rows.isEmpty else { return SegmentLogProbs(segmentsPerRow: segmentsPerRow, sums: Tensor.zeros([slots]), counts: counts) }
        let headRows: [Int32]? = rows.count == x.targets.count ? nil : rows
        let z: Tensor
        switch config.family {
        case .gpt2:
            z = gpt2Logits(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch, time: x.time,
                           p, dropoutRNG, headRows: headRows, checkpointing: checkpointing)
        case .llama:
            z = llamaLogits(tokens: x.tokens, positions: x.positions, segmentIDs: x.segmentIDs, batch: x.batch, time: x.time,
                            p, dropoutRNG, headRows: headRows, checkpointing: checkpointing)
        }
        let kept = rows.map { x.targets[Int($0)] }
        let perToken = Tensor.targetLogProbs(logits: z, targets: kept, ignoreIndex: x.ignoreIndex)  // [K]
        var indicator = [Float](repeating: 0, count: slots * rows.count)  // [B*S, K]
        for (j, k) in slot.enumerated() { indicator[k * rows.count + j] = 1 }
        let sums = Tensor.matmul(Tensor(shape: [slots, rows.count], scalars: indicator), perToken.reshaped([rows.count, 1]))
        return SegmentLogProbs(segmentsPerRow: segmentsPerRow, sums: sums.reshaped([slots]), counts: counts)
    }
}
