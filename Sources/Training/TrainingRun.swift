import Foundation

/// Drives a `Trainer` to the end: steps, periodic evaluation, `metrics.jsonl` and the loss
/// curve in the run directory, and events for the command line to show.
public enum TrainingRun {
    /// Runs every remaining step. `events` receives progress; the directory receives metrics.
    /// A thrown error (for example a non-finite loss) leaves everything already written intact.
    public static func run(_ trainer: inout Trainer, directory: URL, title: String,
                           events: (TrainingEvent) -> Void) throws -> TrainingSummary {
        let log = try MetricsLog(directory: directory, truncateAfterStep: trainer.step)
        events(.started(totalSteps: trainer.totalSteps, startStep: trainer.step,
                        parameterCount: trainer.parameters.elementCount, rowsPerEpoch: trainer.loader.rowsPerEpoch))
        var lastLoss: Double? = nil
        var lastEval: Double? = nil
        let opts = trainer.options
        while let m = try trainer.trainStep() {
            if m.loss == nil {
                events(.warning("step \(m.step) had no trained tokens; the weights were not updated"))
            }
            lastLoss = m.loss ?? lastLoss
            if m.step % opts.logEvery == 0 || m.step == trainer.totalSteps {
                try log.append(m)
                events(.step(m))
            }
            let evalNow = opts.evalEvery > 0 && m.step % opts.evalEvery == 0
            if evalNow || m.step == trainer.totalSteps {
                if let e = try trainer.evaluate(maxBatches: opts.evalBatches) {
                    try log.append(e)
                    lastEval = e.evalLoss
                    events(.eval(e))
                }
            }
            if m.step % max(opts.logEvery, 10) == 0 || m.step == trainer.totalSteps {
                try log.writeCurve(title: title)
            }
            if trainer.isFinished { break }
        }
        try log.writeCurve(title: title)
        let summary = TrainingSummary(steps: trainer.step, tokens: trainer.tokensSeen,
                                      trainedTokens: trainer.trainedTokensSeen, seconds: trainer.elapsedSeconds,
                                      finalLoss: lastLoss, finalEvalLoss: lastEval)
        events(.finished(summary))
        return summary
    }
}
