import Foundation
import XCTest
import Checkpoints
import Datasets
import Models
import NN
import TestSupport
import Training

/// keep_best and early stopping: the record of the best validation loss, the checkpoint kept
/// for it, the stop after `patience` evaluations, and both across a resume.
final class ValidationProgressTests: XCTestCase {
    func test_record_firstAndLowerBeyondDelta_areBest_othersCount() {
        var p = ValidationProgress()
        XCTAssertTrue(p.record(loss: 2.0, step: 2, minDelta: 0.1))
        XCTAssertFalse(p.record(loss: 1.95, step: 4, minDelta: 0.1), "an improvement of 0.05 is within min_delta")
        XCTAssertFalse(p.record(loss: 2.0, step: 6, minDelta: 0), "an equal loss is no improvement")
        XCTAssertEqual(p.evaluationsSinceBest, 2)
        XCTAssertTrue(p.isExhausted(patience: 2))
        XCTAssertFalse(p.isExhausted(patience: 3))
        XCTAssertFalse(p.isExhausted(patience: 0), "patience 0 never stops")
        XCTAssertTrue(p.record(loss: 1.5, step: 8, minDelta: 0.1))
        XCTAssertEqual(p.bestStep, 8)
        XCTAssertEqual(p.bestLoss, 1.5)
        XCTAssertEqual(p.evaluationsSinceBest, 0)
    }

    func options(steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = 4
        o.maxSteps = steps
        o.lr = 1e-2
        o.warmupSteps = 0
        o.threads = 1
        o.seed = 3
        o.evalEvery = 2
        return o
    }

    struct Run {
        var summary: RunSummary
        var trainer: Trainer
        var events: [String]
    }

    func train(_ o: TrainingOptions, in run: URL, data: PreparedData, model: DecoderModel, resume: Bool = false) throws -> Run {
        var t: Trainer
        if resume {
            let checkpoint = try CheckpointReader.open(try CheckpointDirectory.latest(runDirectory: run))
            t = try Trainer.resume(from: checkpoint, model: model, data: data, options: o)
        } else {
            t = try Trainer(model: model, parameters: Trainer.initialParameters(model, seed: o.seed), data: data, options: o)
        }
        var events: [String] = []
        let summary = try t.train(directory: run, title: "t", save: { t in
            try t.saveCheckpoint(in: run, extraFiles: [:], keepLast: o.keepLast)
        }) { e in
            switch e {
            case let .best(step, _, _): events.append("best \(step)")
            case let .earlyStop(step, bestStep, _, patience): events.append("stop \(step) best \(bestStep) patience \(patience)")
            default: break
            }
        }
        return Run(summary: summary, trainer: t, events: events)
    }

    func fixture() throws -> (URL, PreparedData, DecoderModel) {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 60, seqLen: 32, packing: .pad, split: 0.2)
        XCTAssertGreaterThan(data.rowCount(.validation), 0)
        return (dir, data, try TrainingFixture.model(vocab: tok.vocabularySize))
    }

    /// A min_delta no loss can beat makes the first evaluation (step 2) the best and every later
    /// one a miss: patience 2 stops after the evaluation at step 6, saving there.
    func test_earlyStopping_stopsAfterPatienceEvaluations_andResumeKeepsTheCount() throws {
        let (dir, data, model) = try fixture()
        var o = options(steps: 20)
        o.earlyStoppingPatience = 2
        o.earlyStoppingMinDelta = 1e6
        let run = dir.appendingPathComponent("run")
        let first = try train(o, in: run, data: data, model: model)
        XCTAssertEqual(first.summary.steps, 6)
        XCTAssertEqual(first.summary.stoppedEarly, true)
        XCTAssertEqual(first.summary.bestStep, 2)
        XCTAssertFalse(first.summary.stopped, "an early stop is not a Ctrl-C stop")
        XCTAssertEqual(first.events, ["stop 6 best 2 patience 2"])
        XCTAssertEqual(try CheckpointDirectory.latest(runDirectory: run).lastPathComponent, "step-0000006")
        let saved = try TrainerState.read(from: try CheckpointReader.open(try CheckpointDirectory.latest(runDirectory: run)))
        XCTAssertEqual(saved.validation?.bestStep, 2)
        XCTAssertEqual(saved.validation?.evaluationsSinceBest, 2)

        // Resumed with the same patience: the count is exhausted, no step is taken.
        let again = try train(o, in: run, data: data, model: model, resume: true)
        XCTAssertEqual(again.summary.steps, 6)
        XCTAssertEqual(again.summary.stoppedEarly, true)

        // Resumed with patience 4: two more evaluations (8, 10) then stop, as a straight run with patience 4 does.
        o.earlyStoppingPatience = 4
        let longer = try train(o, in: run, data: data, model: model, resume: true)
        XCTAssertEqual(longer.summary.steps, 10)
        XCTAssertEqual(longer.events, ["stop 10 best 2 patience 4"])
        let straight = try train(o, in: dir.appendingPathComponent("straight"), data: data, model: model)
        XCTAssertEqual(straight.summary.steps, 10)
        XCTAssertEqual(straight.trainer.validation, longer.trainer.validation)
        XCTAssertEqual(straight.summary.finalLoss, longer.summary.finalLoss, "resume stays exact with early stopping")
    }

    func test_earlyStoppingOff_runsEveryStep_andSummaryHasNoStoppedEarly() throws {
        let (dir, data, model) = try fixture()
        let r = try train(options(steps: 6), in: dir.appendingPathComponent("run"), data: data, model: model)
        XCTAssertEqual(r.summary.steps, 6)
        XCTAssertNil(r.summary.stoppedEarly)
        XCTAssertNotNil(r.summary.bestEvalLoss, "the best validation loss is recorded whatever the options")
    }

    /// keep_best with keep_last 1: the best checkpoint (step 2 here, as min_delta rules out any
    /// later improvement) survives the pruning of every later save; `best` names it.
    func test_keepBest_keepsTheBestCheckpointBesideKeepLast() throws {
        let (dir, data, model) = try fixture()
        var o = options(steps: 8)
        o.keepBest = true
        o.keepLast = 1
        o.saveEvery = 2
        o.earlyStoppingMinDelta = 1e6
        let run = dir.appendingPathComponent("run")
        let r = try train(o, in: run, data: data, model: model)
        XCTAssertEqual(r.events, ["best 2"])
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map(\.step), [2, 8])
        XCTAssertEqual(try CheckpointDirectory.best(runDirectory: run).lastPathComponent, "step-0000002")
        XCTAssertEqual(try CheckpointDirectory.resolve(run.appendingPathComponent("best").path).lastPathComponent, "step-0000002")
        XCTAssertEqual(try CheckpointDirectory.resolve("best", runDirectory: run).lastPathComponent, "step-0000002")
        XCTAssertEqual(r.summary.bestCheckpoint.map { URL(fileURLWithPath: $0).lastPathComponent }, "step-0000002")
        XCTAssertEqual(r.summary.bestStep, 2)
    }

    /// Without min_delta the loss of this quick-learning run falls at each evaluation: every
    /// evaluation saves and becomes `best`, and with keep_last 1 only the newest remains.
    func test_keepBest_improvingLoss_movesBestAlong() throws {
        let (dir, data, model) = try fixture()
        var o = options(steps: 6)
        o.keepBest = true
        o.keepLast = 1
        let run = dir.appendingPathComponent("run")
        let r = try train(o, in: run, data: data, model: model)
        let best = try XCTUnwrap(r.summary.bestStep)
        XCTAssertEqual(r.events.last, "best \(best)")
        XCTAssertEqual(try CheckpointDirectory.best(runDirectory: run).lastPathComponent, CheckpointWriter.directoryName(step: best))
        XCTAssertEqual(Set(try CheckpointDirectory.list(runDirectory: run).map(\.step)), [best, 6],
                       "keep_last 1 plus the best: an earlier best is pruned once it is no longer best")
        let losses = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["eval_loss"] as? Double }
        XCTAssertEqual(r.summary.bestEvalLoss, losses.min())
    }
}
