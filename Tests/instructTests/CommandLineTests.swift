import Foundation
import Training
import XCTest

/// Runs the built `instruct` binary the way a user does: synthetic data, a short training
/// run with evaluation, checkpoint inspection, and bad input.
final class CommandLineTests: XCTestCase {
    static var binary: URL { CLI.binary }

    @discardableResult
    func run(_ args: [String], in dir: URL) throws -> CLI.Result { try CLI.run(args, in: dir) }

    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    func test_synthTrainInspect_endToEnd() throws {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no instruct binary at \(Self.binary.path)")
        let dir = try CLI.tinyProject("cli", synthSeed: 3, train: 300, heldout: 24, recipeSeed: 2,
                                      training: "{batch_size: 4, max_steps: 5, threads: 1, warmup_steps: 0}",
                                      extra: "eval: {synth: synth/heldout.jsonl, max_new_tokens: 8}\noutput: {dir: run}")
        let inspect0 = try run(["data", "inspect", "r.yaml", "--json"], in: dir)
        XCTAssertEqual(inspect0.status, 0, inspect0.err)
        XCTAssertTrue(inspect0.out.contains("\"packing_efficiency\""), inspect0.out)
        let row = try run(["data", "inspect", "r.yaml", "--index", "0"], in: dir)
        XCTAssertEqual(row.status, 0, row.err)
        XCTAssertTrue(row.out.contains("[[") && row.out.contains("example 1"), row.out)
        let train = try run(["train", "r.yaml", "training.lr=1e-3"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        XCTAssertTrue(train.out.contains("held-out accuracy before training"), train.out)
        XCTAssertTrue(train.out.contains("done: 5 steps"), train.out)
        let metrics = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").filter { $0.contains("\"loss\"") }.count, 5)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("run/run.json"))) as? [String: Any]
        for key in ["accuracy_before", "accuracy_after", "per_family", "train_seconds", "steps", "tokens"] {
            XCTAssertNotNil(summary?[key], "summary lacks \(key)")
        }
        XCTAssertEqual(summary?["instructkit_version"] as? String, InstructKitVersion.current)
        let resolved = try String(contentsOf: dir.appendingPathComponent("run/recipe.resolved.yaml"), encoding: .utf8)
        XCTAssertTrue(resolved.contains("lr: 0.001"), resolved)
        let inspect = try run(["checkpoint", "inspect", "run/latest"], in: dir)
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains("step 5") && inspect.out.contains("verified"), inspect.out)
    }

    /// The preflight counts held-out examples once: as validation, not also as training.
    func test_train_withSplit_preflightCountsTrainAndValidationApart() throws {
        let dir = try CLI.tinyProject("split", synthSeed: 2, train: 100, heldout: 4, recipeSeed: 1,
                                      training: "{batch_size: 2, max_steps: 1, threads: 1, warmup_steps: 0}")
        let r = try CLI.run(["train", "r.yaml", "data.datasets.0.split=0.1"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue((r.out + r.err).contains("100 records, 90 train / 10 validation examples"), r.out + r.err)
    }

    func test_badRecipe_exitsNonZeroNamingKeyAndSuggestion() throws {
        let dir = try tempDir()
        try "tokenizer: {path: x}\ndata: {datasets: [{path: a.jsonl}]}\ntrainig: {lr: 1}\n"
            .write(to: dir.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let r = try run(["train", "bad.yaml"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.err.contains("trainig") && r.err.contains("training"), r.err)
        let missing = try run(["train", "nope.yaml"], in: dir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("nope.yaml"), missing.err)
    }

    func test_help_hasExamples() throws {
        let dir = try tempDir()
        for args in [["--help"], ["train", "--help"], ["data", "inspect", "--help"], ["bench", "ops", "--help"]] {
            let r = try run(args, in: dir)
            XCTAssertEqual(r.status, 0)
            XCTAssertTrue(r.out.contains("Examples:"), "\(args) help has no examples: \(r.out)")
        }
    }

    /// `bench train --activation-checkpointing` checkpoints every block: it says so in its
    /// JSON, and the losses are those of the run without it, bit for bit.
    func test_benchTrain_activationCheckpointing_sameLosses() throws {
        let dir = try tempDir()
        func bench(_ extra: [String]) throws -> [String: Any] {
            let r = try run(["bench", "train", "--config", "tiny", "--batch", "2", "--seq", "32", "--steps", "2", "--warmup", "0",
                             "--threads", "1", "--no-sgemm-peak", "--json"] + extra, in: dir)
            XCTAssertEqual(r.status, 0, r.err)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        }
        let direct = try bench([]), checkpointed = try bench(["--activation-checkpointing"])
        XCTAssertEqual(direct["activationCheckpointing"] as? Bool, false)
        XCTAssertEqual(checkpointed["activationCheckpointing"] as? Bool, true)
        for key in ["lossFirst", "lossLast"] {
            XCTAssertNotNil(direct[key] as? Double, key)
            XCTAssertEqual(checkpointed[key] as? Double, direct[key] as? Double, key)
        }
    }

    /// train with save_every, resume with a longer max_steps (allowed, reported), refuse a
    /// changed model, then export (hf, hdf5) and import back.
    func test_trainResumeExportImport_endToEnd() throws {
        let dir = try CLI.tinyProject("e2e", synthSeed: 4, train: 200, heldout: 8, recipeSeed: 2,
                                      training: "{batch_size: 4, max_steps: 5, threads: 1, warmup_steps: 0, save_every: 2}")
        let train = try run(["train", "r.yaml"], in: dir)
        XCTAssertEqual(train.status, 0, train.err)
        let steps = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run").path)
            .filter { $0.hasPrefix("step-") }.sorted()
        XCTAssertEqual(steps, ["step-0000002", "step-0000004", "step-0000005"])
        let resumed = try run(["train", "r.yaml", "training.max_steps=8", "--resume", "latest"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        XCTAssertTrue(resumed.out.contains("training.max_steps: 5 -> 8"), resumed.out)
        XCTAssertTrue(resumed.out.contains("at step 5 of 8"), resumed.out)
        let metrics = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        let logged = metrics.split(separator: "\n").filter { $0.contains("\"loss\"") && !$0.contains("eval_loss") }
            .compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap { $0["step"] as? Int }
        XCTAssertEqual(logged, Array(1...8))
        let refused = try run(["train", "r.yaml", "model.dim=64", "--resume", "latest"], in: dir)
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.err.contains("model.dim: 32 -> 64"), refused.err)

        let hf = try run(["export", "run", "--format", "hf", "--out", "hf"], in: dir)
        XCTAssertEqual(hf.status, 0, hf.err)
        for f in ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("hf/" + f).path), f)
        }
        let h5 = try run(["export", "run/step-0000008", "--format", "hdf5", "--out", "m.h5"], in: dir)
        XCTAssertEqual(h5.status, 0, h5.err)
        let imported = try run(["import", "hf", "--out", "back"], in: dir)
        XCTAssertEqual(imported.status, 0, imported.err)
        let inspect = try run(["checkpoint", "inspect", "back/step-0000000"], in: dir)
        XCTAssertEqual(inspect.status, 0, inspect.err)
    }

    /// `model.init` starts from a checkpoint's weights: with a vanishing learning rate, one
    /// step leaves them as they were; a checkpoint of another shape is refused naming model.init.
    func test_modelInit_startsFromCheckpointWeights() throws {
        let dir = try tempDir()
        XCTAssertEqual(try run(["data", "synth", "--out", "synth", "--seed", "4", "--train", "100", "--heldout", "8"], in: dir).status, 0)
        let base = """
            # test recipe
            tokenizer: {train: {vocab_size: 300}}
            data: {datasets: [{path: synth/train.jsonl, template: plain}], seq_len: 64, cache_dir: null}
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 4, max_steps: 3, threads: 1, warmup_steps: 0}
            output: {dir: a}
            """
        try base.write(to: dir.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let a = try run(["train", "a.yaml"], in: dir)
        XCTAssertEqual(a.status, 0, a.err)
        let b = try run(["train", "a.yaml", "model.init=a/latest", "output.dir=b", "training.max_steps=1",
                         "training.lr=1e-12", "training.grad_clip=0"], in: dir)
        XCTAssertEqual(b.status, 0, b.err)
        XCTAssertTrue(b.out.contains("starting from the weights in a/latest"), b.out)
        let wa = try Data(contentsOf: dir.appendingPathComponent("a/step-0000003/model.safetensors"))
        let wb = try Data(contentsOf: dir.appendingPathComponent("b/step-0000001/model.safetensors"))
        XCTAssertEqual(wa.count, wb.count)
        // Same header and nearly the same floats: count bytes that differ (lr 1e-12 moves
        // at most the last bits of a few weights).
        let differing = zip(wa, wb).filter { $0 != $1 }.count
        XCTAssertLessThan(differing, wa.count / 50, "weights should start from a/latest")
        let bad = try run(["train", "a.yaml", "model.init=a/latest", "output.dir=c", "model.dim=64"], in: dir)
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("model.init"), bad.err)
    }

    /// A run killed with SIGKILL (no chance to clean up) resumes from its last checkpoint and
    /// ends with the same weights, bit for bit, as a run that was never stopped.
    func test_sigkilledRun_resumesToTheSameWeights() throws {
        let dir = try tempDir()
        XCTAssertEqual(try run(["data", "synth", "--out", "synth", "--seed", "6", "--train", "400", "--heldout", "8"], in: dir).status, 0)
        let recipe = """
            # test recipe
            seed: 3
            tokenizer: {train: {vocab_size: 300}}
            data: {datasets: [{path: synth/train.jsonl, template: plain}], seq_len: 64, cache_dir: null}
            model: {dim: 32, layers: 1, heads: 2}
            training: {batch_size: 4, max_steps: 120, threads: 1, warmup_steps: 0, save_every: 5}
            output: {dir: killed}
            """
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let p = try CLI.start(["train", "r.yaml"], in: dir)
        let first = dir.appendingPathComponent("killed/step-0000010")
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: first.path) && p.isRunning && Date() < deadline { usleep(500) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal, "the run finished before it could be killed; raise max_steps")
        let resumed = try run(["train", "r.yaml", "--resume", "latest"], in: dir)
        XCTAssertEqual(resumed.status, 0, resumed.err)
        let straight = try run(["train", "r.yaml", "output.dir=straight"], in: dir)
        XCTAssertEqual(straight.status, 0, straight.err)
        let a = try Data(contentsOf: dir.appendingPathComponent("killed/step-0000120/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("straight/step-0000120/model.safetensors"))
        XCTAssertEqual(a, b, "resumed weights differ from the uninterrupted run")
        let steps = try String(contentsOf: dir.appendingPathComponent("killed/metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["loss"] != nil }.compactMap { $0["step"] as? Int }
        XCTAssertEqual(steps, Array(1...120), "metrics.jsonl must continue with no duplicated or missing step")
    }
}
