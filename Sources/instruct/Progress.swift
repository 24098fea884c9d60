import Foundation
import Training

/// Shows training events: a one-line progress bar on a terminal, plain lines otherwise.
final class ProgressPrinter {
    let isTerminal = isatty(STDOUT_FILENO) == 1
    var total = 0
    var start = 0
    var lastPlain = Date.distantPast
    var lastStep: StepMetrics?
    var lastEval: EvalMetrics?

    func handle(_ event: TrainingEvent) {
        switch event {
        case let .started(totalSteps, startStep, parameterCount, rowsPerEpoch):
            total = totalSteps
            start = startStep
            print("training: \(fmtCount(parameterCount)) parameters, \(rowsPerEpoch) rows per epoch, steps \(startStep + 1)...\(totalSteps)")
        case let .step(m):
            lastStep = m
            if isTerminal {
                print("\r" + line(m), terminator: "")
                fflush(stdout)
            } else if m.step == total || Date().timeIntervalSince(lastPlain) >= 5 || m.step == start + 1 {
                print(line(m))
                lastPlain = Date()
            }
        case let .eval(e):
            lastEval = e
            if isTerminal { print("") }
            if let p = e.preference {
                print(String(format: "eval   step %ld: loss %.4f  reward accuracy %.1f%%  margin %.4f  (%ld pairs)", e.step, e.evalLoss,
                             p.rewardsAccuracies * 100, p.rewardsMargins, p.pairs))
            } else {
                print(String(format: "eval   step %ld: loss %.4f  perplexity %.2f  (%ld tokens)", e.step, e.evalLoss, e.evalPerplexity, e.evalTokens))
            }
        case let .warning(w):
            if isTerminal { print("") }
            print("warning: \(w)")
        case let .checkpoint(step, directory):
            if isTerminal { print("") }
            print("checkpoint step \(step): \(directory.path)")
        case let .best(step, evalLoss, directory):
            print(String(format: "best   step %ld: eval loss %.4f, kept as %@", step, evalLoss, directory.path))
        case let .earlyStop(step, bestStep, bestEvalLoss, patience):
            if isTerminal { print("") }
            print(String(format: "early stop after step %ld: %ld evaluations without improving on step %ld (eval loss %.4f)",
                         step, patience, bestStep, bestEvalLoss))
        case let .finished(s):
            if isTerminal { print("") }
            print(String(format: "done: %ld steps, %@ tokens (%@ trained) in %.1f s", s.steps, fmtCount(s.tokens), fmtCount(s.trainedTokens), s.trainSeconds))
            if let r = s.allreduceSecondsPerStep, let ranks = s.ranks {
                print(String(format: "all-reduce: %.2f ms per step over %ld ranks (rank 0 also waited %.2f ms per step for the slowest rank)",
                             r * 1000, ranks, (s.rankWaitSecondsPerStep ?? 0) * 1000))
            }
        }
    }

    func line(_ m: StepMetrics) -> String {
        let width = 24
        let frac = total > 0 ? Double(m.step) / Double(total) : 0
        let filled = Int(frac * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let done = Double(m.step - start)
        let eta = done > 0 ? m.elapsedSeconds / Double(m.step) * Double(total - m.step) : 0
        let loss = m.loss.map { String(format: "%.4f", $0) } ?? "  -   "
        return String(format: "[%@] %ld/%ld  loss %@  lr %.2e  %@ tok/s (%@ trained)  ETA %@",
                      bar, m.step, total, loss, m.lr, fmtCount(Int(m.tokensPerSecond)), fmtCount(Int(m.trainedTokensPerSecond)),
                      fmtDuration(eta))
    }
}

func fmtCount(_ n: Int) -> String {
    if n >= 1_000_000 { return String(format: "%.2fM", Double(n) / 1e6) }
    if n >= 10_000 { return String(format: "%.1fk", Double(n) / 1e3) }
    return "\(n)"
}

/// `42s`, `3m07s`, `5h04m`, `12d03h`; `?` for a time that is not a finite number of seconds
/// (no Int conversion of an unbounded Double: an absurd ETA must not trap).
func fmtDuration(_ s: Double) -> String {
    guard s.isFinite, s >= 0, s < 1e15 else { return "?" }
    let t = Int(s.rounded())
    if t < 60 { return "\(t)s" }
    if t < 3600 { return "\(t / 60)m" + String(format: "%02ld", t % 60) + "s" }
    if t < 86400 { return "\(t / 3600)h" + String(format: "%02ld", (t / 60) % 60) + "m" }
    return "\(t / 86400)d" + String(format: "%02ld", (t / 3600) % 24) + "h"
}
