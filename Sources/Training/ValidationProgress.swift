/// The best validation loss of a run so far, its step, and how many evaluations since have
/// not beaten it: what `TrainingOptions.keepBest` and early stopping decide on. It is part of
/// the trainer state (`trainer_state.json`, key `validation`), so a resumed run keeps the same
/// best and continues the same count, whatever the options were when it was saved.
public struct ValidationProgress: Codable, Sendable, Equatable {
    /// The step of the lowest validation loss so far; nil before the first evaluation.
    public var bestStep: Int?
    /// The lowest validation loss so far; nil before the first evaluation.
    public var bestLoss: Double?
    /// Evaluations since the best one that did not improve on it by more than the threshold.
    public var evaluationsSinceBest = 0

    /// No evaluation yet.
    public init() {}

    /// Records the validation loss `loss` at `step`. Returns true when it is the new best: the
    /// first evaluation, or a loss lower than the best by more than `minDelta` (a loss that
    /// only equals the best, or improves by `minDelta` or less, counts as no improvement, as
    /// in Keras' and Hugging Face's early stopping).
    @discardableResult
    public mutating func record(loss: Double, step: Int, minDelta: Double) -> Bool {
        if let best = bestLoss, !(loss < best - minDelta) {
            evaluationsSinceBest += 1
            return false
        }
        bestLoss = loss
        bestStep = step
        evaluationsSinceBest = 0
        return true
    }

    /// Whether `patience` evaluations in a row have not improved on the best (never for a
    /// patience of 0, which turns early stopping off).
    public func isExhausted(patience: Int) -> Bool {
        patience > 0 && evaluationsSinceBest >= patience
    }

    /// Why this progress cannot be one a run saved at `step`, or nil when it can.
    func problem(atStep step: Int) -> String? {
        if (bestStep == nil) != (bestLoss == nil) { return "`validation` has only one of bestStep and bestLoss" }
        if let s = bestStep, !(0...step).contains(s) { return "`validation.bestStep` is \(s); it is between 0 and the step, \(step)" }
        if let l = bestLoss, !l.isFinite { return "`validation.bestLoss` is \(l); a validation loss is finite" }
        if evaluationsSinceBest < 0 { return "`validation.evaluationsSinceBest` is \(evaluationsSinceBest); it is 0 or more" }
        return nil
    }
}
