import Foundation

/// Drives a `Trainer` to the end: steps, periodic evaluation, `metrics.jsonl` and the loss
/// curve in the run directory, and events for the command line to show.
public enum TrainingRun {
    /// Runs every remaining step. `events` receives progress; the directory receives metrics.
    /// A thrown error (for example a non-finite loss) leaves everything already written intact.
    ///
    /// With `save`, a checkpoint is written every `options.saveEvery` steps, when
    /// `shouldStop` returns true (checked between optimizer steps, so the current step
    /// finishes first), and after the last step; the run stops after a stop request.
    /// Checkpoints are only ever taken after a whole optimizer step, so a resume can never
    /// start inside a gradient-accumulation window. `save` receives the trainer and returns
    /// the checkpoint directory (the caller adds the recipe and tokenizer; Training does
    /// not know recipes).
    ///
    /// Data parallel (`trainer.group`): every rank runs this loop; rank 0 alone writes
    /// metrics.jsonl and the loss curve (`save` gathers and writes on rank 0 itself), a stop
    /// request on any rank stops every rank after the same step, and the ranks' weights are
    /// compared at the start, every `options.syncCheckEvery` steps and at the end.
    public static func run(_ trainer: inout Trainer, directory: URL, title: String,
                           shouldStop: () -> Bool = { false },
                           save: ((Trainer) throws -> URL)? = nil,
                           events: (TrainingEvent) -> Void) throws -> TrainingSummary {
        let group = trainer.group
        let log = group.isMain ? try MetricsLog(directory: directory, truncateAfterStep: trainer.step) : nil
        try trainer.checkReplicasInSync()
        let stepsBefore = trainer.step
        events(.started(totalSteps: trainer.totalSteps, startStep: trainer.step,
                        parameterCount: trainer.parameters.elementCount, rowsPerEpoch: trainer.loader.rowsPerEpoch))
        var lastLoss: Double? = nil
        var lastEval: Double? = nil
        let opts = trainer.options
        var savedStep = trainer.step
        var lastCheckpoint: URL? = nil
        var stopped = false
        func checkpoint(_ t: Trainer) throws {
            guard let save, t.step != savedStep else { return }
            let url = try save(t)
            savedStep = t.step
            lastCheckpoint = url
            events(.checkpoint(step: t.step, directory: url))
        }
        while !trainer.isFinished, let m = try trainer.trainStep() {
            if m.loss == nil {
                events(.warning("step \(m.step) had no trained tokens; the weights were not updated"))
            }
            lastLoss = m.loss ?? lastLoss
            if m.step % opts.logEvery == 0 || m.step == trainer.totalSteps {
                try log?.append(m)
                events(.step(m))
            }
            let evalNow = opts.evalEvery > 0 && m.step % opts.evalEvery == 0
            if evalNow || m.step == trainer.totalSteps {
                if let e = try trainer.evaluate(maxBatches: opts.evalBatches) {
                    try log?.append(e)
                    lastEval = e.evalLoss
                    events(.eval(e))
                }
            }
            if m.step % max(opts.logEvery, 10) == 0 || m.step == trainer.totalSteps {
                try log?.writeCurve(title: title)
            }
            if opts.syncCheckEvery > 0 && m.step % opts.syncCheckEvery == 0 { try trainer.checkReplicasInSync() }
            if opts.saveEvery > 0 && m.step % opts.saveEvery == 0 { try checkpoint(trainer) }
            if !trainer.isFinished, try group.any(shouldStop()) {
                stopped = true
                break
            }
        }
        try trainer.checkReplicasInSync()
        try checkpoint(trainer)
        try log?.writeCurve(title: title)
        var summary = TrainingSummary(steps: trainer.step, tokens: trainer.tokensSeen,
                                      trainedTokens: trainer.trainedTokensSeen, seconds: trainer.elapsedSeconds,
                                      finalLoss: lastLoss, finalEvalLoss: lastEval,
                                      stopped: stopped, checkpoint: lastCheckpoint)
        summary.ranks = group.size
        summary.stepsThisRun = trainer.step - stepsBefore
        if group.isDistributed {
            summary.allreduceSeconds = trainer.allreduceSeconds
            summary.rankWaitSeconds = trainer.rankWaitSeconds
        }
        events(.finished(summary))
        return summary
    }
}
