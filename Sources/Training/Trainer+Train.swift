import Checkpoints
import Foundation

extension Trainer {
    /// Drives the trainer to the end: steps, periodic evaluation, `metrics.jsonl` and the loss
    /// curve in the run directory, and events for the command line to show.
    ///
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
    /// Validation loss (every `options.evalEvery` steps and after the last) updates
    /// `validation`. With `options.keepBest` and `save`, an evaluation that improves on the best
    /// saves a checkpoint at once and points `RUN/best` at it (`CheckpointWriter.markBest`).
    /// With `options.earlyStoppingPatience` > 0 the run ends, saving as at its last step, once
    /// that many evaluations in a row have not improved; a resumed run whose count is already
    /// exhausted takes no step (raise the patience to train on).
    ///
    /// Data parallel (`group`): every rank runs this loop; rank 0 alone writes
    /// metrics.jsonl and the loss curve (`save` gathers and writes on rank 0 itself), a stop
    /// request on any rank stops every rank after the same step, and the ranks' weights are
    /// compared at the start, every `options.syncCheckEvery` steps and at the end.
    public mutating func train(directory: URL, title: String, shouldStop: () -> Bool = { false },
                               save: ((Trainer) throws -> URL)? = nil,
                               events: (TrainingEvent) -> Void) throws -> RunSummary {
        let log = group.isMain ? try MetricsLog(directory: directory, truncateAfterStep: step, tensorBoard: options.tensorBoard) : nil
        try checkReplicasInSync()
        let stepsBefore = step
        events(.started(totalSteps: totalSteps, startStep: step,
                        parameterCount: parameters.elementCount, rowsPerEpoch: loader.rowsPerEpoch))
        var lastLoss: Double? = nil
        var lastEval: Double? = nil
        let opts = options
        var savedStep = step
        var lastCheckpoint: URL? = nil
        var stopped = false
        var bestCheckpoint: URL? = nil
        let patience = opts.earlyStoppingPatience
        var stoppedEarly = validation.isExhausted(patience: patience)
        @discardableResult
        func checkpoint(_ t: Trainer) throws -> URL? {
            guard let save else { return nil }
            guard t.step != savedStep else { return lastCheckpoint }
            let url = try save(t)
            savedStep = t.step
            lastCheckpoint = url
            events(.checkpoint(step: t.step, directory: url))
            return url
        }
        while !stoppedEarly, !isFinished, let m = try trainStep() {
            if m.loss == nil {
                events(.warning("step \(m.step) had no trained tokens; the weights were not updated"))
            }
            lastLoss = m.loss ?? lastLoss
            if m.step % opts.logEvery == 0 || m.step == totalSteps {
                try log?.append(m)
                events(.step(m))
            }
            let evalNow = opts.evalEvery > 0 && m.step % opts.evalEvery == 0
            if evalNow || m.step == totalSteps {
                if let e = try evaluate(maxBatches: opts.evalBatches) {
                    try log?.append(e)
                    lastEval = e.evalLoss
                    events(.eval(e))
                    let improved = validation.record(loss: e.evalLoss, step: e.step, minDelta: opts.earlyStoppingMinDelta)
                    if improved && opts.keepBest, let url = try checkpoint(self) {
                        if group.isMain {
                            let run = url.deletingLastPathComponent()
                            try CheckpointWriter.markBest(step: step, in: run)
                            // The save pruned while `best` still named the previous best: prune again without it.
                            if let k = opts.keepLast { try CheckpointWriter.prune(runDirectory: run, keepLast: k, knownValidStep: step) }
                        }
                        bestCheckpoint = url
                        events(.best(step: step, evalLoss: e.evalLoss, directory: url))
                    }
                    if validation.isExhausted(patience: patience), let bestStep = validation.bestStep, let bestLoss = validation.bestLoss {
                        stoppedEarly = true
                        events(.earlyStop(step: step, bestStep: bestStep, bestEvalLoss: bestLoss, patience: patience))
                    }
                }
            }
            if m.step % max(opts.logEvery, 10) == 0 || m.step == totalSteps {
                try log?.writeCurve(title: title)
            }
            if opts.syncCheckEvery > 0 && m.step % opts.syncCheckEvery == 0 { try checkReplicasInSync() }
            if opts.saveEvery > 0 && m.step % opts.saveEvery == 0 { try checkpoint(self) }
            if stoppedEarly { break }
            if !isFinished, try group.any(shouldStop()) {
                stopped = true
                break
            }
        }
        try checkReplicasInSync()
        try checkpoint(self)
        try log?.writeCurve(title: title)
        var summary = RunSummary(steps: step, tokens: tokensSeen, trainedTokens: trainedTokensSeen, trainSeconds: elapsedSeconds,
                                 parameters: model.parameterCount)
        summary.finalLoss = lastLoss
        summary.finalEvalLoss = lastEval
        summary.stopped = stopped
        summary.checkpoint = lastCheckpoint?.path
        summary.bestStep = validation.bestStep
        summary.bestEvalLoss = validation.bestLoss
        summary.bestCheckpoint = bestCheckpoint?.path
        if patience > 0 { summary.stoppedEarly = stoppedEarly }
        if group.isDistributed {
            let steps = Double(Swift.max(step - stepsBefore, 1))
            summary.ranks = group.size
            summary.allreduceSecondsPerStep = allreduceSeconds / steps
            summary.rankWaitSecondsPerStep = rankWaitSeconds / steps
        }
        events(.finished(summary))
        return summary
    }
}
