import Autograd
import Models
import NN

/// A pair's reference log-probabilities: the summed log-probability of each side's response
/// tokens under the starting weights, and how many tokens each sum covers.
public struct ReferencePair: Codable, Sendable, Equatable {
    /// Sum over the chosen response's tokens.
    public var chosen: Double
    /// Sum over the rejected response's tokens.
    public var rejected: Double
    /// Response tokens of each side (IPO divides the sums by them).
    public var chosenTokens: Int
    public var rejectedTokens: Int

    /// A pair's reference values.
    public init(chosen: Double, rejected: Double, chosenTokens: Int, rejectedTokens: Int) {
        self.chosen = chosen
        self.rejected = rejected
        self.chosenTokens = chosenTokens
        self.rejectedTokens = rejectedTokens
    }
}

/// The preference loss of rows of pairs: every row holds one pair, its chosen side as segment 1
/// and its rejected side as segment 2 (attention never crosses them, positions restart), with
/// only the response tokens of each side counted (docs/preference.md).
public enum PreferenceObjective {
    /// What one forward pass over pair rows gives.
    public struct Result {
        /// A scalar whose gradient with respect to the tracked parameters is the gradient of
        /// the summed pair losses: `sum over pairs of dL/dpc * pc + dL/dpr * pr` with the
        /// derivatives as constants (each pair's loss depends on the policy only through its
        /// two log-probabilities). Its value is not the loss; `totals.loss` is. Nil when no
        /// row held a usable pair.
        public var surrogate: Tensor?
        /// The pairs' summed losses and TRL metrics.
        public var totals: PreferenceTotals
        /// The policy's per-side sums (not averaged), in row order.
        public var policy: [ReferencePair]
    }

    /// The policy's log-probabilities of every pair of `input` (one pair per row), the losses
    /// against `reference` (one per row, the same order), and a scalar to differentiate.
    /// A row with an empty side (no counted target) is left out of the losses and metrics.
    /// `checkpointing`: per-block activation checkpointing (`DecoderModel.loss`).
    public static func evaluate(model: DecoderModel, input: ModelInput, parameters: Parameters, reference: [ReferencePair],
                                options: PreferenceOptions, dropoutRNG: UnsafeMutablePointer<RNG>? = nil,
                                checkpointing: Bool = false) -> Result {
        precondition(reference.count == input.batch, "PreferenceObjective: \(input.batch) rows need \(input.batch) reference pairs, got \(reference.count)")
        let lp = model.segmentLogProbs(input, segmentsPerRow: 2, parameters: parameters, dropoutRNG: dropoutRNG,
                                       checkpointing: checkpointing)
        let sums = lp.sums.scalars
        var weights = [Float](repeating: 0, count: 2 * input.batch)
        var totals = PreferenceTotals()
        var policy: [ReferencePair] = []
        for b in 0..<input.batch {
            let nc = lp.counts[2 * b], nr = lp.counts[2 * b + 1]
            policy.append(ReferencePair(chosen: Double(sums[2 * b]), rejected: Double(sums[2 * b + 1]), chosenTokens: nc, rejectedTokens: nr))
            guard nc > 0, nr > 0 else { continue }
            let ref = reference[b]
            // IPO (TRL): every log-prob is its sequence's mean over the response tokens.
            let mean = options.loss == .ipo
            let sc = mean ? 1 / Double(nc) : 1, sr = mean ? 1 / Double(nr) : 1
            let pc = Double(sums[2 * b]) * sc, pr = Double(sums[2 * b + 1]) * sr
            let rc = ref.chosen * (mean ? 1 / Double(ref.chosenTokens) : 1)
            let rr = ref.rejected * (mean ? 1 / Double(ref.rejectedTokens) : 1)
            var l = PreferencePairLoss(policyChosen: pc, policyRejected: pr, referenceChosen: rc, referenceRejected: rr, options: options)
            var dChosenSum = l.dChosen * sc
            if options.rpoAlpha > 0 {
                // RPO: + alpha * (mean NLL of the chosen answer's tokens), on the summed log-prob.
                l.loss += options.rpoAlpha * (-Double(sums[2 * b]) / Double(nc))
                dChosenSum += -options.rpoAlpha / Double(nc)
            }
            if mean {
                // TRL (1.16) reports IPO's rewards and log-probs from the summed log-ratios; only
                // the loss is on per-token means.
                l.rewardChosen = options.beta * (Double(sums[2 * b]) - ref.chosen)
                l.rewardRejected = options.beta * (Double(sums[2 * b + 1]) - ref.rejected)
            }
            totals.add(l, policyChosen: Double(sums[2 * b]), policyRejected: Double(sums[2 * b + 1]))
            weights[2 * b] = Float(dChosenSum)
            weights[2 * b + 1] = Float(l.dRejected * sr)
        }
        guard totals.pairs > 0, lp.sums.isTracked else { return Result(surrogate: nil, totals: totals, policy: policy) }
        let surrogate = (lp.sums * Tensor(shape: [2 * input.batch], scalars: weights)).sum()
        return Result(surrogate: surrogate, totals: totals, policy: policy)
    }
}
