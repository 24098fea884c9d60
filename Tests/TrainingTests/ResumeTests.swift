import Foundation
import XCTest
import Autograd
import Checkpoints
import Datasets
import Models
import NN
import TestSupport
import Training

/// Exact resume: N steps straight vs k steps, save, load, resume to N gives the same loss at
/// every later step and the same final weights, bit for bit. A checkpoint is only ever taken
/// after a whole optimizer step (`Trainer.train` saves between `trainStep` calls), so a resume
/// cannot begin inside a gradient-accumulation window; the grad_accum case checks that the
/// window after a resume is the same one.
final class ResumeTests: XCTestCase {
    func options(batch: Int, accum: Int, steps: Int) -> TrainingOptions {
        var o = TrainingOptions()
        o.microBatchSize = batch
        o.gradientAccumulation = accum
        o.maxSteps = steps
        o.lr = 3e-3
        o.warmupSteps = 2
        o.threads = 1
        o.seed = 11
        return o
    }

    struct Fixture {
        var data: PreparedData
        var model: DecoderModel
        var dir: URL
    }

    /// 40 padded examples, one per row: 10 steps per epoch at 4 rows per step.
    func fixture(dropout: Float = 0) throws -> Fixture {
        let dir = try TrainingFixture.directory()
        let (data, tok) = try TrainingFixture.prepare(in: dir, count: 40, seqLen: 32, packing: .pad, split: 0)
        let model = try DecoderModel(ModelConfig(family: .llama, vocabSize: tok.vocabularySize, contextLength: 128, dim: 16,
                                                 layers: 1, heads: 2, kvHeads: 1, ffnDim: 32, dropout: dropout))
        return Fixture(data: data, model: model, dir: dir)
    }

    func bits(_ p: Parameters) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: p.pairs.map { ($0.name, $0.tensor.scalars.map(\.bitPattern)) })
    }

    /// Losses (as bit patterns) of steps k+1...N, straight and resumed, and final weights.
    func compare(_ f: Fixture, _ o: TrainingOptions, stopAt k: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let start = Trainer.initialParameters(f.model, seed: o.seed)
        var straight = try Trainer(model: f.model, parameters: start, data: f.data, options: o)
        var straightLosses: [UInt64] = []
        while !straight.isFinished, let m = try straight.trainStep() {
            if m.step > k { straightLosses.append(try XCTUnwrap(m.loss).bitPattern) }
        }
        var first = try Trainer(model: f.model, parameters: start, data: f.data, options: o)
        for _ in 0..<k { _ = try first.trainStep() }
        let run = f.dir.appendingPathComponent("run-\(k)-\(o.gradientAccumulation)")
        let saved = try first.saveCheckpoint(in: run, extraFiles: [:])
        XCTAssertEqual(saved.lastPathComponent, String(format: "step-%07d", k), file: file, line: line)
        let checkpoint = try CheckpointReader.open(try CheckpointDirectory.resolve("latest", runDirectory: run))
        var resumed = try Trainer.resume(from: checkpoint, model: f.model, data: f.data, options: o)
        XCTAssertEqual(resumed.state, first.state, file: file, line: line)
        var resumedLosses: [UInt64] = []
        while !resumed.isFinished, let m = try resumed.trainStep() { resumedLosses.append(try XCTUnwrap(m.loss).bitPattern) }
        XCTAssertEqual(resumedLosses.count, o.maxSteps! - k, file: file, line: line)
        XCTAssertEqual(resumedLosses, straightLosses, "losses after resuming at step \(k)", file: file, line: line)
        XCTAssertEqual(bits(resumed.parameters), bits(straight.parameters), "final weights", file: file, line: line)
        XCTAssertEqual(resumed.tokensSeen, straight.tokensSeen, file: file, line: line)
        XCTAssertEqual(resumed.state.dataCursor, straight.state.dataCursor, file: file, line: line)
    }

    func test_resume_midEpoch_bitIdenticalLossesAndWeights() throws {
        try compare(try fixture(), options(batch: 4, accum: 1, steps: 14), stopAt: 3)
    }

    func test_resume_atEpochBoundary_bitIdenticalLossesAndWeights() throws {
        try compare(try fixture(), options(batch: 4, accum: 1, steps: 14), stopAt: 10)
    }

    /// grad_accum 2 with dropout, so the restored dropout generator matters too.
    func test_resume_withGradAccumAndDropout_bitIdenticalLossesAndWeights() throws {
        try compare(try fixture(dropout: 0.1), options(batch: 2, accum: 2, steps: 13), stopAt: 5)
    }

    func test_resume_checkpointOfOtherData_isRefused() throws {
        let f = try fixture()
        let o = options(batch: 4, accum: 1, steps: 4)
        var t = try Trainer(model: f.model, parameters: Trainer.initialParameters(f.model, seed: 1), data: f.data, options: o)
        _ = try t.trainStep()
        let run = f.dir.appendingPathComponent("run-other")
        let url = try t.saveCheckpoint(in: run, extraFiles: [:])
        let (other, _) = try TrainingFixture.prepare(in: try TrainingFixture.directory(), count: 41,
                                                     seqLen: 32, packing: .pad, split: 0)
        XCTAssertThrowsError(try Trainer.resume(from: try CheckpointReader.open(url), model: f.model, data: other, options: o)) { e in
            guard case TrainingError.resumeMismatch = e else { return XCTFail("\(e)") }
        }
    }

    /// Steps of metrics.jsonl, in order.
    func loggedSteps(_ run: URL) throws -> [(Int, UInt64)] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").compactMap {
            let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            guard let l = obj["loss"] as? Double else { return nil }
            return (try XCTUnwrap(obj["step"] as? Int), l.bitPattern)
        }
    }

    /// A stop request after k steps saves step-k; resuming the loop in the same run directory
    /// continues metrics.jsonl with no duplicated or missing step and the straight run's losses.
    func test_train_stopRequest_savesAndResumeContinuesMetricsExactly() throws {
        let f = try fixture()
        var o = options(batch: 4, accum: 1, steps: 12)
        o.saveEvery = 5
        let start = Trainer.initialParameters(f.model, seed: o.seed)
        func save(_ run: URL) -> (Trainer) throws -> URL { { t in try t.saveCheckpoint(in: run, extraFiles: [:]) } }

        let straightRun = f.dir.appendingPathComponent("straight")
        var straight = try Trainer(model: f.model, parameters: start, data: f.data, options: o)
        let s = try straight.train(directory: straightRun, title: "t", save: save(straightRun)) { _ in }
        XCTAssertFalse(s.stopped)
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: straightRun).map(\.step), [5, 10, 12])

        let run = f.dir.appendingPathComponent("stopped")
        var first = try Trainer(model: f.model, parameters: start, data: f.data, options: o)
        var polls = 0
        let stoppedSummary = try first.train(directory: run, title: "t", shouldStop: { polls += 1; return polls >= 7 },
                                                 save: save(run)) { _ in }
        XCTAssertTrue(stoppedSummary.stopped)
        XCTAssertEqual(first.step, 7)
        XCTAssertEqual(stoppedSummary.checkpoint.map { URL(fileURLWithPath: $0).lastPathComponent }, "step-0000007")
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map(\.step), [5, 7])
        // A killed run may have logged steps after its last checkpoint; resuming from step 5 drops them.
        let checkpoint = try CheckpointReader.open(run.appendingPathComponent("step-0000005"))
        var resumed = try Trainer.resume(from: checkpoint, model: f.model, data: f.data, options: o)
        let r = try resumed.train(directory: run, title: "t", save: save(run)) { _ in }
        XCTAssertEqual(r.steps, 12)
        let a = try loggedSteps(straightRun), b = try loggedSteps(run)
        XCTAssertEqual(b.map(\.0), Array(1...12))
        XCTAssertEqual(b.map(\.1), a.map(\.1))
        XCTAssertEqual(bits(resumed.parameters), bits(straight.parameters))
    }

    func test_train_keepLast_prunesOlderCheckpoints() throws {
        let f = try fixture()
        var o = options(batch: 4, accum: 1, steps: 6)
        o.saveEvery = 2
        var t = try Trainer(model: f.model, parameters: Trainer.initialParameters(f.model, seed: 1), data: f.data, options: o)
        let run = f.dir.appendingPathComponent("keep")
        _ = try t.train(directory: run, title: "t",
                                save: { t in try t.saveCheckpoint(in: run, extraFiles: [:], keepLast: 2) }) { _ in }
        XCTAssertEqual(try CheckpointDirectory.list(runDirectory: run).map(\.step), [4, 6])
    }
}
