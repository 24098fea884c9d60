import Foundation

/// Which preference objective a run optimises (recipe `preference.loss`).
public enum PreferenceLossKind: String, Codable, Sendable, CaseIterable {
    /// DPO (Rafailov et al. 2023) with TRL's label smoothing (conservative DPO):
    /// `-(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)`.
    case sigmoid
    /// IPO (Azar et al. 2023) as TRL computes it: `(h - 1 / (2 beta))^2`, where the
    /// log-ratios in `h` are each sequence's mean over its response tokens, not the sum (TRL
    /// 1.16 `loss_type="ipo"`); its rewards stay on the summed log-ratios, as TRL logs them.
    case ipo
}

/// The settings of a preference run: the objective, beta and label smoothing.
public struct PreferenceOptions: Codable, Sendable, Equatable {
    /// The objective. Default sigmoid (DPO): what TRL's DPOTrainer does by default.
    public var loss: PreferenceLossKind = .sigmoid
    /// The KL strength beta (for IPO, the regularisation tau). Default 0.1 (TRL's).
    public var beta: Double = 0.1
    /// The probability that a pair's preference is flipped (cDPO); sigmoid only. Default 0.
    public var labelSmoothing: Double = 0
    /// Weight of the chosen answer's negative log-likelihood added to each pair's loss (RPO,
    /// TRL's `rpo_alpha`): `alpha * (-log pi(chosen) / answer tokens)`, which keeps the chosen
    /// answer likely while the margin grows (DPO alone often lowers both sides). Default 0
    /// (off). TRL averages the NLL over all chosen tokens of its batch; we average per pair, the
    /// same when the batch holds one pair or answers of one length.
    public var rpoAlpha: Double = 0

    /// The defaults.
    public init() {}

    /// Problems with these options, each naming the option.
    public func problems() -> [String] {
        var p: [String] = []
        if !(beta > 0 && beta.isFinite) { p.append("beta must be a finite number > 0") }
        if !(labelSmoothing >= 0 && labelSmoothing < 0.5) { p.append("labelSmoothing must be in [0, 0.5)") }
        if loss == .ipo && labelSmoothing != 0 { p.append("labelSmoothing applies to the sigmoid loss only") }
        if !(rpoAlpha >= 0 && rpoAlpha.isFinite) { p.append("rpoAlpha must be a finite number >= 0") }
        return p
    }
}

/// One pair's loss, its derivatives and TRL's reward metrics, from four sequence
/// log-probabilities.
///
/// With `h = (pc - rc) - (pr - rr)` (policy chosen/rejected `pc`/`pr`, reference `rc`/`rr`;
/// for IPO each a mean over the response's tokens, else a sum):
///
/// - sigmoid: `L = -(1 - eps) log sigmoid(beta h) - eps log sigmoid(-beta h)`,
///   `dL/dh = beta ((1 - eps) (sigmoid(beta h) - 1) + eps sigmoid(beta h))`;
/// - ipo: `L = (h - 1/(2 beta))^2`, `dL/dh = 2 (h - 1/(2 beta))`;
///
/// and `dL/dpc = dL/dh`, `dL/dpr = -dL/dh` (the reference is a constant). Rewards are
/// `beta (pc - rc)` and `beta (pr - rr)` (TRL's `chosen_rewards` / `rejected_rewards`). All in
/// Double; `log sigmoid` is computed as `-softplus(-x)` in a form that neither overflows nor
/// loses the small tail.
public struct PreferencePairLoss: Equatable, Sendable {
    /// The pair's loss.
    public var loss: Double
    /// dL / d(policy chosen log-prob) (for IPO: of the mean log-prob).
    public var dChosen: Double
    /// dL / d(policy rejected log-prob).
    public var dRejected: Double
    /// `beta (pc - rc)`.
    public var rewardChosen: Double
    /// `beta (pr - rr)`.
    public var rewardRejected: Double

    /// The loss of one pair under `options`.
    public init(policyChosen pc: Double, policyRejected pr: Double, referenceChosen rc: Double, referenceRejected rr: Double,
                options: PreferenceOptions) {
        let beta = options.beta
        let h = (pc - rc) - (pr - rr)
        let dh: Double
        switch options.loss {
        case .sigmoid:
            let eps = options.labelSmoothing
            let z = beta * h
            loss = -(1 - eps) * Self.logSigmoid(z) - eps * Self.logSigmoid(-z)
            let s = Self.sigmoid(z)
            dh = beta * ((1 - eps) * (s - 1) + eps * s)
        case .ipo:
            let d = h - 1 / (2 * beta)
            loss = d * d
            dh = 2 * d
        }
        dChosen = dh
        dRejected = -dh
        rewardChosen = beta * (pc - rc)
        rewardRejected = beta * (pr - rr)
    }

    /// `log(1 / (1 + exp(-x)))` without overflow for any finite x.
    static func logSigmoid(_ x: Double) -> Double {
        x >= 0 ? -Foundation.log1p(Foundation.exp(-x)) : x - Foundation.log1p(Foundation.exp(x))
    }

    /// `1 / (1 + exp(-x))` without overflow.
    static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }
}

/// Sums of TRL's per-pair metrics over some pairs (a step, an evaluation, a rank's share),
/// added across ranks as a flat vector; `means` divides by the pair count.
public struct PreferenceTotals: Equatable, Sendable {
    /// Pairs counted.
    public var pairs = 0
    public var loss = 0.0
    public var rewardChosen = 0.0
    public var rewardRejected = 0.0
    /// Pairs whose chosen reward is strictly above the rejected one (TRL's `rewards/accuracies`).
    public var correct = 0.0
    /// Policy log-probs summed over each answer, as TRL's `logps/chosen` / `logps/rejected`.
    public var logpChosen = 0.0
    public var logpRejected = 0.0

    /// Empty totals.
    public init() {}

    /// Adds one pair.
    public mutating func add(_ l: PreferencePairLoss, policyChosen: Double, policyRejected: Double) {
        pairs += 1
        loss += l.loss
        rewardChosen += l.rewardChosen
        rewardRejected += l.rewardRejected
        correct += l.rewardChosen > l.rewardRejected ? 1 : 0
        logpChosen += policyChosen
        logpRejected += policyRejected
    }

    /// The totals as a vector for an all-reduce, and back.
    public var vector: [Double] { [Double(pairs), loss, rewardChosen, rewardRejected, correct, logpChosen, logpRejected] }
    /// Totals from `vector`'s layout.
    public init(vector v: [Double]) {
        precondition(v.count == 7, "PreferenceTotals: need 7 values, got \(v.count)")
        pairs = Int(v[0]); loss = v[1]; rewardChosen = v[2]; rewardRejected = v[3]; correct = v[4]
        logpChosen = v[5]; logpRejected = v[6]
    }

    /// Per-pair means under TRL's names; nil without pairs.
    public var means: PreferenceMetrics? {
        guard pairs > 0 else { return nil }
        let n = Double(pairs)
        return PreferenceMetrics(rewardsChosen: rewardChosen / n, rewardsRejected: rewardRejected / n,
                                 rewardsMargins: (rewardChosen - rewardRejected) / n, rewardsAccuracies: correct / n,
                                 logpsChosen: logpChosen / n, logpsRejected: logpRejected / n, pairs: pairs)
    }
}

/// TRL's preference metrics of a step or an evaluation (per-pair means).
public struct PreferenceMetrics: Codable, Sendable, Equatable {
    public var rewardsChosen: Double
    public var rewardsRejected: Double
    public var rewardsMargins: Double
    public var rewardsAccuracies: Double
    public var logpsChosen: Double
    public var logpsRejected: Double
    /// Pairs behind the means.
    public var pairs: Int

    /// Metrics.
    public init(rewardsChosen: Double, rewardsRejected: Double, rewardsMargins: Double, rewardsAccuracies: Double,
                logpsChosen: Double, logpsRejected: Double, pairs: Int) {
        self.rewardsChosen = rewardsChosen
        self.rewardsRejected = rewardsRejected
        self.rewardsMargins = rewardsMargins
        self.rewardsAccuracies = rewardsAccuracies
        self.logpsChosen = logpsChosen
        self.logpsRejected = logpsRejected
        self.pairs = pairs
    }
}

extension PreferenceMetrics {
    /// A metrics-line key of any name.
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// TRL's names, in order; `prefix` is "" for steps and "eval_" for evaluations.
    static let names = ["rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected"]

    var values: [Double] { [rewardsChosen, rewardsRejected, rewardsMargins, rewardsAccuracies, logpsChosen, logpsRejected] }

    /// Writes the metrics flat into a metrics line, beside its other keys.
    func encode(to encoder: Encoder, prefix: String) throws {
        var c = encoder.container(keyedBy: Key.self)
        for (name, v) in zip(Self.names, values) { try c.encode(v, forKey: Key(stringValue: prefix + name)) }
        try c.encode(pairs, forKey: Key(stringValue: prefix + "pairs"))
    }

    /// Reads them back from a metrics line; nil when the line has none (supervised runs).
    init?(from decoder: Decoder, prefix: String) throws {
        let c = try decoder.container(keyedBy: Key.self)
        var v: [Double] = []
        for name in Self.names {
            guard let x = try c.decodeIfPresent(Double.self, forKey: Key(stringValue: prefix + name)) else { return nil }
            v.append(x)
        }
        let n = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: prefix + "pairs")) ?? 0
        self.init(rewardsChosen: v[0], rewardsRejected: v[1], rewardsMargins: v[2], rewardsAccuracies: v[3],
                  logpsChosen: v[4], logpsRejected: v[5], pairs: n)
    }
}
