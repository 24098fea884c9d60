/// Learning-rate schedules, each with linear warmup and a floor.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    case constant, linear, cosine
}

/// The learning rate at each optimizer step (0-based), as a pure function of the step,
/// so resuming needs only the step number.
///
/// Warmup rises linearly from lr/warmup to lr over `warmupSteps`; then `constant` stays at
/// lr, `linear` falls linearly to `minLR` at `totalSteps`, and `cosine` follows half a
/// cosine from lr to `minLR` at `totalSteps`. After `totalSteps` the rate stays at `minLR`.
public struct LRSchedule: Codable, Sendable, Equatable {
    public var kind: ScheduleKind
    public var lr: Double
    public var minLR: Double
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(kind: ScheduleKind, lr: Double, minLR: Double = 0, warmupSteps: Int = 0, totalSteps: Int) {
        self.kind = kind
        self.lr = lr
        self.minLR = minLR
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// The rate for optimizer step `step` (0-based).
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return lr * Double(step + 1) / Double(warmupSteps) }
        if kind == .constant { return lr }
        let span = max(totalSteps - warmupSteps, 1)
        let progress = min(Double(step - warmupSteps) / Double(span), 1)
        switch kind {
        case .constant: return lr
        case .linear: return minLR + (lr - minLR) * (1 - progress)
        case .cosine:
            // cos from the C library would differ by an ulp across platforms; the
            // schedule is recomputed from the step on resume on the same machine, which is
            // what exact resume needs.
            return minLR + (lr - minLR) * 0.5 * (1 + cosine(Double.pi * progress))
        }
    }
}

#if canImport(Glibc)
import Glibc
private func cosine(_ x: Double) -> Double { Glibc.cos(x) }
#elseif canImport(Darwin)
import Darwin
private func cosine(_ x: Double) -> Double { Darwin.cos(x) }
#endif
