import Checkpoints
import Foundation
import XCTest

/// Issue 17 through the binary, as a careless or hostile user meets it: every case ends in a
/// clear error (naming the file, key or value, and what to do) or a correct result, never in
/// a crash, a hang, a silent wrong result or damaged state.
final class HostileInputCommandLineTests: XCTestCase {
    static var shared: URL?

    /// A project (synth data, `r.yaml`) with a run in `run/`: checkpoints at steps 2 and 4.
    func trainedProject() throws -> URL {
        if let d = Self.shared { return d }
        let dir = try CLI.tinyProject("hostile", synthSeed: 5, train: 200, heldout: 8, recipeSeed: 1,
                                      training: "{batch_size: 4, max_steps: 4, save_every: 2, threads: 1, warmup_steps: 0}")
        let r = try CLI.run(["train", "r.yaml"], in: dir)
        XCTAssertEqual(r.status, 0, r.err)
        Self.shared = dir
        return dir
    }

    /// A copy of the trained project that a test may change.
    func project(_ name: String) throws -> URL {
        let dir = try LimitedRun.copy(try trainedProject(), name: name)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func assertCleanError(_ o: LimitedRun.Outcome, mentions: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(o.exited && !o.timedOut, o.summary, file: file, line: line)
        XCTAssertEqual(o.status, 1, o.summary, file: file, line: line)
        XCTAssertTrue(o.err.hasPrefix("error:") || o.err.contains("\nerror:"), o.summary, file: file, line: line)
        for m in mentions { XCTAssertTrue(o.err.contains(m), "stderr should mention \(m): \(o.summary)", file: file, line: line) }
        XCTAssertFalse(o.err.contains("NSCocoaErrorDomain") || o.err.contains("Fatal error"), o.summary, file: file, line: line)
    }

    func latestStep(_ run: URL) throws -> Int? {
        try CheckpointReader.open(try CheckpointDirectory.latest(runDirectory: run)).step
    }

    // MARK: - Recipes

    /// Nested aliases that Yams would expand to gigabytes (the 9 levels were killed at
    /// 17 GB) are refused before parsing, under a 1 GB address-space limit, in well under a second.
    func test_aliasBombRecipe_refusedQuicklyNamingLine() throws {
        let dir = try project("bomb")
        var text = try String(contentsOf: dir.appendingPathComponent("r.yaml"), encoding: .utf8) + "\n"
        let base = text.split(separator: "\n", omittingEmptySubsequences: false).count
        text += "x0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n"
        for i in 1...9 { text += "x\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        try text.write(to: dir.appendingPathComponent("bomb.yaml"), atomically: true, encoding: .utf8)
        let o = try LimitedRun.run(["train", "bomb.yaml"], in: dir, timeout: 10, memoryKiB: 1_000_000)
        assertCleanError(o, mentions: ["bomb.yaml:\(base):5", "`&a0` is a YAML anchor"])
        XCTAssertLessThan(o.seconds, 5)
        let inspect = try LimitedRun.run(["data", "inspect", "bomb.yaml"], in: dir, timeout: 10, memoryKiB: 1_000_000)
        assertCleanError(inspect, mentions: ["anchor"])
    }

    /// A checkpoint's recipe.yaml goes through the same parser on --resume.
    func test_checkpointRecipeWithAlias_resumeRefused() throws {
        let dir = try project("ckpt-alias")
        try LimitedRun.rewriteCheckpoint(dir.appendingPathComponent("run/step-0000004")) { files in
            let recipe = String(decoding: files["recipe.yaml"] ?? Data(), as: UTF8.self)
            files["recipe.yaml"] = Data((recipe + "x: &a [1, 2]\ny: [*a, *a]\n").utf8)
        }
        let o = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=6"], in: dir)
        assertCleanError(o, mentions: ["step-0000004/recipe.yaml:", "anchor"])
        XCTAssertEqual(try latestStep(dir.appendingPathComponent("run")), 4)
    }

    func test_recipeThatIsADirectory_plainMessage() throws {
        let dir = try project("recipe-dir")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("recipes.yaml"), withIntermediateDirectories: true)
        let o = try LimitedRun.run(["train", "recipes.yaml"], in: dir)
        assertCleanError(o, mentions: ["recipes.yaml: cannot read the recipe (it is a directory"])
    }

    /// `output.dir=` used to write silently into `checkpoints/RECIPE`.
    func test_emptyOutputDir_refusedAndNothingWritten() throws {
        let dir = try project("empty-out")
        for override in ["output.dir=", "output.dir=\"\""] {
            let o = try LimitedRun.run(["train", "r.yaml", override], in: dir)
            assertCleanError(o, mentions: ["output.dir", "is empty"])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoints").path))
    }

    /// `max_steps: 1e12` made the progress total overflow (printed as a negative 32-bit
    /// number); absurd step and epoch counts are refused naming the key.
    func test_absurdStepCounts_refusedNamingKey() throws {
        let dir = try project("steps")
        let o = try LimitedRun.run(["train", "r.yaml", "training.max_steps=1000000000000", "output.dir=big"], in: dir)
        assertCleanError(o, mentions: ["training.max_steps", "at most 1000000000"])
        let e = try LimitedRun.run(["train", "r.yaml", "training.max_steps=null", "training.epochs=100000000000000000", "output.dir=big"], in: dir)
        assertCleanError(e, mentions: ["training.epochs"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("big").path))
    }

    // MARK: - Processes: interrupts, locks, file-size limits

    /// The second Ctrl-C quits at once with status 130 (it segfaulted 3 times in 4 when
    /// `exit` ran destructors under OpenBLAS), leaving no temporary folder and a `latest` that
    /// verifies. Half the tries send it while a save is being written.
    func test_secondCtrlC_exits130_noCrash_noTemporaryFolder() throws {
        let dir = try project("sigint")
        for attempt in 0..<6 {
            let run = dir.appendingPathComponent("int\(attempt)")
            let errURL = dir.appendingPathComponent("int\(attempt).err")
            FileManager.default.createFile(atPath: errURL.path, contents: nil)
            let err = try FileHandle(forWritingTo: errURL)
            let p = try CLI.start(["train", "r.yaml", "output.dir=int\(attempt)", "training.max_steps=100000", "training.save_every=1",
                                   "training.keep_last=2", "model.dim=128", "model.layers=2"], in: dir, stderr: err)
            let deadline = Date().addingTimeInterval(10)
            // Wait for the first checkpoint; on odd tries also for a save in progress.
            while p.isRunning && Date() < deadline {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: run.path)) ?? []
                if names.contains("latest") && (attempt % 2 == 0 || names.contains { $0.hasPrefix(".tmp-step-") }) { break }
                usleep(200)
            }
            XCTAssertTrue(p.isRunning, "the run ended before it could be interrupted")
            kill(p.processIdentifier, SIGINT)
            usleep(UInt32(attempt % 3) * 2000)
            kill(p.processIdentifier, SIGINT)
            let killDeadline = Date().addingTimeInterval(20)
            while p.isRunning && Date() < killDeadline { usleep(1000) }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .exit, "try \(attempt): ended by signal \(p.terminationStatus)")
            let printed = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            XCTAssertTrue(p.terminationStatus == 130 || p.terminationStatus == 0, "try \(attempt): status \(p.terminationStatus): \(printed)")
            XCTAssertEqual(LimitedRun.leftovers(in: run), [], "try \(attempt)")
            XCTAssertNoThrow(try CheckpointReader.open(try CheckpointDirectory.latest(runDirectory: run)), "try \(attempt)")
        }
    }

    /// Two `instruct train` on one output.dir both ran and interleaved their steps; the second
    /// is now refused naming the first (pid and command), and once the first is killed its lock
    /// is no obstacle.
    func test_twoTrainsOnOneRunFolder_secondRefusedNamingHolder() throws {
        let dir = try project("lock")
        let first = try CLI.start(["train", "r.yaml", "training.max_steps=100000", "output.dir=locked"], in: dir)
        let lock = dir.appendingPathComponent("locked/.lock")
        let deadline = Date().addingTimeInterval(30)
        while first.isRunning && Date() < deadline && ((try? Data(contentsOf: lock))?.count ?? 0) == 0 { usleep(1000) }
        XCTAssertTrue(first.isRunning)
        let second = try LimitedRun.run(["train", "r.yaml", "output.dir=locked"], in: dir)
        assertCleanError(second, mentions: ["another process is writing this run folder", "pid \(first.processIdentifier)", "instruct train r.yaml"])
        let resume = try LimitedRun.run(["train", "r.yaml", "output.dir=locked", "--resume", "latest"], in: dir)
        assertCleanError(resume, mentions: ["pid \(first.processIdentifier)"])
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let after = try LimitedRun.run(["train", "r.yaml", "output.dir=locked", "training.max_steps=2"], in: dir)
        XCTAssertEqual(after.status, 0, after.summary)
        XCTAssertFalse(FileManager.default.fileExists(atPath: lock.path), "the lock file is removed when the run ends")
    }

    /// A file-size limit used to kill the run with SIGXFSZ (rc 153) mid-save. Without any trap
    /// in the shell, it is now a full-disk error: message, previous checkpoint intact.
    func test_fileSizeLimit_isAWriteErrorAndThePreviousCheckpointStays() throws {
        let dir = try project("xfsz")
        let o = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=8"], in: dir, fileSizeKiB: 64)
        assertCleanError(o, mentions: [".safetensors", "cannot write", "File too large"])
        let run = dir.appendingPathComponent("run")
        XCTAssertEqual(LimitedRun.leftovers(in: run), [])
        XCTAssertEqual(try latestStep(run), 4)
    }

    /// Folders an interrupted save left are cleaned up by the next run; a checkpoint that a
    /// kill left only in the trash (between moving it aside and renaming its replacement in)
    /// is put back.
    func test_leftoversOfAKilledSave_cleanedUpByTheNextRun() throws {
        let dir = try project("leftovers")
        let run = dir.appendingPathComponent("run")
        let fm = FileManager.default
        let tmp = run.appendingPathComponent(".tmp-step-0000006-999999-1")
        try fm.createDirectory(at: tmp, withIntermediateDirectories: false)
        try Data("partial".utf8).write(to: tmp.appendingPathComponent("model.safetensors"))
        try Data("step-0000006\n".utf8).write(to: run.appendingPathComponent(".latest.tmp-999999-2"))
        try fm.moveItem(at: run.appendingPathComponent("step-0000004"), to: run.appendingPathComponent(".trash-step-0000004-999999-3"))
        let o = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=6"], in: dir)
        XCTAssertEqual(o.status, 0, o.summary)
        XCTAssertTrue(o.out.contains("put back step-0000004"), o.out)
        XCTAssertTrue(o.out.contains("removed 2 leftover(s)"), o.out)
        XCTAssertTrue(o.out.contains("at step 4 of 6"), "resumed from the restored checkpoint: \(o.out)")
        XCTAssertEqual(LimitedRun.leftovers(in: run), [])
        XCTAssertEqual(try latestStep(run), 6)
    }

    /// `latest` that is a directory or names a path outside the run was passed over in silence
    /// (the newest checkpoint was used instead).
    func test_badLatest_clearMessage() throws {
        let dir = try project("latest")
        let run = dir.appendingPathComponent("run")
        let latest = run.appendingPathComponent("latest")
        try FileManager.default.removeItem(at: latest)
        try FileManager.default.createDirectory(at: latest, withIntermediateDirectories: false)
        assertCleanError(try LimitedRun.run(["generate", "run", "--prompt", "hi", "--threads", "1"], in: dir), mentions: ["latest is a directory"])
        try FileManager.default.removeItem(at: latest)
        try Data("../other/step-0000004\n".utf8).write(to: latest)
        assertCleanError(try LimitedRun.run(["checkpoint", "inspect", "run"], in: dir), mentions: ["`../other/step-0000004`, a path"])
        assertCleanError(try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=6"], in: dir),
                         mentions: ["a path"])
        try FileManager.default.removeItem(at: latest)
        XCTAssertEqual(mkfifo(latest.path, 0o644), 0)
        assertCleanError(try LimitedRun.run(["generate", "run", "--prompt", "hi"], in: dir, timeout: 10), mentions: ["not a regular file"])
    }

    // MARK: - Checkpoints

    /// `checkpoint inspect` exited 0 for every corrupt file; now 1, and --json names the file.
    func test_checkpointInspect_failedVerification_exitsNonZero_jsonNamesTheFile() throws {
        let dir = try project("inspect")
        let good = try LimitedRun.run(["checkpoint", "inspect", "run", "--json"], in: dir)
        XCTAssertEqual(good.status, 0, good.summary)
        let goodObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(good.out.utf8)) as? [String: Any], good.out)
        XCTAssertEqual(goodObject["ok"] as? Bool, true)
        XCTAssertEqual(goodObject["verified"] as? Bool, true)
        XCTAssertEqual(goodObject["failed_files"] as? [String], [])

        let weights = dir.appendingPathComponent("run/step-0000004/optimizer.safetensors")
        var bytes = try Data(contentsOf: weights)
        bytes[bytes.count - 3] ^= 0x55
        try bytes.write(to: weights)
        let text = try LimitedRun.run(["checkpoint", "inspect", "run"], in: dir)
        XCTAssertEqual(text.status, 1, text.summary)
        XCTAssertTrue(text.out.contains("FAILED") && text.err.contains("optimizer.safetensors"), text.out + text.err)
        let json = try LimitedRun.run(["checkpoint", "inspect", "run/step-0000004", "--json"], in: dir)
        XCTAssertEqual(json.status, 1, json.summary)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any], json.out)
        XCTAssertEqual(object["ok"] as? Bool, false)
        XCTAssertEqual(object["failed_files"] as? [String], ["optimizer.safetensors"])
        let files = try XCTUnwrap(object["files"] as? [[String: Any]])
        let failed = files.first { $0["name"] as? String == "optimizer.safetensors" }
        XCTAssertEqual(failed?["ok"] as? Bool, false)
        XCTAssertTrue((failed?["problem"] as? String ?? "").contains("SHA-256"), "\(String(describing: failed))")
        XCTAssertEqual(try LimitedRun.run(["checkpoint", "inspect", "run", "--no-verify"], in: dir).status, 0)
        let missing = try LimitedRun.run(["checkpoint", "inspect", "nothing-here", "--json"], in: dir)
        XCTAssertEqual(missing.status, 1, missing.summary)
        XCTAssertTrue(missing.out.contains("\"ok\":false"), missing.out)
    }

    /// An out-of-range step in trainer_state.json trained then trapped, or reported "0 steps"
    /// with rc 0. With a manifest that matches the edit (so only the reader can catch it):
    func test_trainerStateStepOutOfRange_refused() throws {
        let dir = try project("state")
        for (value, expected) in [(-3, "`step` is -3"), (1_000_000_000_000, "manifest.json says the checkpoint is step 4"),
                                  (Int.max, "manifest.json says")] {
            let copy = try LimitedRun.copy(dir, name: "state-\(value)")
            defer { try? FileManager.default.removeItem(at: copy) }
            try LimitedRun.rewriteCheckpoint(copy.appendingPathComponent("run/step-0000004")) { files in
                files["trainer_state.json"] = try LimitedRun.editJSON(files["trainer_state.json"] ?? Data()) { $0["step"] = value }
            }
            let o = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=8"], in: copy)
            assertCleanError(o, mentions: ["trainer_state.json", expected])
        }
        // The manifest agrees with the state, past the run's length: refused naming max_steps.
        let far = try LimitedRun.copy(dir, name: "state-far")
        defer { try? FileManager.default.removeItem(at: far) }
        let farStep = far.appendingPathComponent("run/step-0000004")
        let checkpoint = try CheckpointReader.open(farStep)
        var files: [String: CheckpointFile] = [:]
        for name in checkpoint.fileNames {
            var data = try Data(contentsOf: farStep.appendingPathComponent(name))
            if name == "trainer_state.json" { data = try LimitedRun.editJSON(data) { $0["step"] = 1_000_000; $0["optimizerStep"] = 4 } }
            files[name] = .bytes(data)
        }
        try CheckpointWriter.save(directory: farStep, step: 1_000_000, files: files)
        let o = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=8"], in: far)
        assertCleanError(o, mentions: ["step 1000000", "training.max_steps"])
        // A shorter max_steps than the checkpoint's step: refused the same way (was "0 steps", rc 0).
        let short = try LimitedRun.run(["train", "r.yaml", "--resume", "latest", "training.max_steps=3"], in: dir)
        assertCleanError(short, mentions: ["at step 4, past the 3 steps"])
    }

    /// `export` wrote a config.json that contradicted the weights once the card was edited
    /// (and the manifest rewritten to match): the weights are now checked against the card.
    func test_exportAndGenerate_cardThatContradictsTheWeights_refused() throws {
        let dir = try project("card")
        let t = try LimitedRun.run(["train", "r.yaml", "model.layers=2", "training.max_steps=2", "training.save_every=0", "output.dir=two"], in: dir)
        XCTAssertEqual(t.status, 0, t.summary)
        try LimitedRun.rewriteCheckpoint(dir.appendingPathComponent("two/step-0000002")) { files in
            files["model_card.json"] = try LimitedRun.editJSON(files["model_card.json"] ?? Data()) { card in
                var config = card["config"] as? [String: Any] ?? [:]
                config["layers"] = 1
                card["config"] = config
            }
        }
        let export = try LimitedRun.run(["export", "two", "--format", "hf", "--out", "hf"], in: dir)
        assertCleanError(export, mentions: ["model.safetensors", "does not describe", "model.layers.1."])
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("hf/config.json").path))
        assertCleanError(try LimitedRun.run(["generate", "two", "--prompt", "hi"], in: dir), mentions: ["does not describe"])
    }

    /// `instruct import --out` an existing run moved its `latest` to the import and broke
    /// `--resume`: refused unless --force.
    func test_importIntoAnExistingRun_refusedUnlessForce() throws {
        let dir = try project("import")
        XCTAssertEqual(try LimitedRun.run(["export", "run", "--format", "hf", "--out", "hf"], in: dir).status, 0)
        let refused = try LimitedRun.run(["import", "hf", "--out", "run"], in: dir)
        assertCleanError(refused, mentions: ["run folder with 2 checkpoint(s)", "--force"])
        XCTAssertEqual(try latestStep(dir.appendingPathComponent("run")), 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("run/step-0000000").path))
        let fresh = try LimitedRun.run(["import", "hf", "--out", "fresh"], in: dir)
        XCTAssertEqual(fresh.status, 0, fresh.summary)
        let again = try LimitedRun.run(["import", "hf", "--out", "fresh"], in: dir)
        assertCleanError(again, mentions: ["--force"])
        let forced = try LimitedRun.run(["import", "hf", "--out", "run", "--force"], in: dir)
        XCTAssertEqual(forced.status, 0, forced.summary)
        XCTAssertEqual(try latestStep(dir.appendingPathComponent("run")), 0)
    }

    /// The lead's HF import checks, through the binary: a config the model here cannot
    /// follow is refused naming the key, with nothing written.
    func test_hfImport_unsupportedOrContradictingConfig_refusedNothingWritten() throws {
        let dir = try project("hf")
        XCTAssertEqual(try LimitedRun.run(["train", "r.yaml", "model.layers=2", "training.max_steps=1", "output.dir=two"], in: dir).status, 0)
        XCTAssertEqual(try LimitedRun.run(["export", "two", "--format", "hf", "--out", "hf"], in: dir).status, 0)
        let config = dir.appendingPathComponent("hf/config.json")
        let original = try Data(contentsOf: config)
        let cases: [(String, Any, String)] = [
            ("hidden_act", "gelu", "hidden_act"), ("rope_scaling", ["type": "linear", "factor": 2.0], "rope_scaling"),
            ("attention_bias", true, "attention_bias"), ("mlp_bias", true, "mlp_bias"), ("sliding_window", 4096, "sliding_window"),
            ("num_hidden_layers", 1, "model.layers.1."),
        ]
        for (i, (key, value, mention)) in cases.enumerated() {
            try LimitedRun.editJSON(original) { $0[key] = value }.write(to: config)
            let o = try LimitedRun.run(["import", "hf", "--out", "imported\(i)"], in: dir)
            assertCleanError(o, mentions: [mention])
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("imported\(i)").path), key)
        }
    }

    /// `model.init` with another tokenizer of the same vocabulary size trained at a loss of
    /// 20 on ids the weights never saw; refused naming the key.
    func test_modelInit_withAnotherTokenizerOfTheSameSize_refused() throws {
        let dir = try project("init-tok")
        XCTAssertEqual(try LimitedRun.run(["data", "synth", "--out", "other", "--seed", "77", "--train", "200", "--heldout", "4"], in: dir).status, 0)
        let o = try LimitedRun.run(["train", "r.yaml", "model.init=run", "data.datasets.0.path=other/train.jsonl", "output.dir=b"], in: dir)
        assertCleanError(o, mentions: ["tokenizer.train", "another tokenizer than model.init's"])
        // The same through tokenizer.path: another 300-id tokenizer file.
        XCTAssertEqual(try LimitedRun.run(["train", "r.yaml", "data.datasets.0.path=other/train.jsonl", "output.dir=c",
                                           "training.max_steps=1"], in: dir).status, 0)
        let p = try LimitedRun.run(["train", "r.yaml", "model.init=run", "tokenizer.train=null", "tokenizer.path=c/tokenizer.json",
                                    "output.dir=d"], in: dir)
        assertCleanError(p, mentions: ["tokenizer.path", "another tokenizer than model.init's"])
    }

    // MARK: - Command-line values and messages

    /// `--threads 0` or negative trapped in generate, eval and chat; every command refuses it.
    func test_threadsZeroOrNegative_refusedByEveryCommand() throws {
        let dir = try project("threads")
        let commands: [[String]] = [
            ["generate", "run", "--prompt", "hi"], ["chat", "run"], ["eval", "run", "--data", "synth/heldout.jsonl"],
            ["eval", "checkpoint", "run", "--data", "synth/heldout.jsonl"], ["eval", "ifeval", "--responses", "x.jsonl"],
            ["bench", "ops"], ["bench", "generate"], ["bench", "train"],
            ["tokenizer", "encode", "--tokenizer", "run/tokenizer.json"],
        ]
        for command in commands {
            for threads in ["--threads=0", "--threads=-1", "--threads=100000000000"] {
                let o = try LimitedRun.run(command + [threads], in: dir, stdin: "hello\n")
                XCTAssertTrue(o.exited && !o.timedOut, "\(command) \(threads): \(o.summary)")
                XCTAssertNotEqual(o.status, 0, "\(command) \(threads): \(o.summary)")
                XCTAssertTrue(o.err.contains("--threads must be between 1 and 1024"), "\(command) \(threads): \(o.summary)")
            }
        }
        let train = try LimitedRun.run(["train", "r.yaml", "training.threads=0"], in: dir)
        assertCleanError(train, mentions: ["training.threads"])
    }

    /// Token id 2^40 was reported as 2147483647 and 1.5 as "id 1"; a truncated file named a
    /// different tensor from run to run.
    func test_messages_tokenIDsAsWritten_truncatedTensorNamedDeterministically() throws {
        let dir = try project("messages")
        let tokenizer = try Data(contentsOf: dir.appendingPathComponent("run/tokenizer.json"))
        func tokenizerWith(_ id: Any) throws -> Data {
            try LimitedRun.editJSON(tokenizer) { root in
                var model = root["model"] as? [String: Any] ?? [:]
                var vocab = model["vocab"] as? [String: Any] ?? [:]
                vocab["zzz-new"] = id
                model["vocab"] = vocab
                root["model"] = model
            }
        }
        try tokenizerWith(1 << 40).write(to: dir.appendingPathComponent("huge.json"))
        try tokenizerWith(1.5).write(to: dir.appendingPathComponent("half.json"))
        let huge = try LimitedRun.run(["tokenizer", "encode", "--tokenizer", "huge.json"], in: dir, stdin: "hi\n")
        XCTAssertEqual(huge.status, 1, huge.summary)
        XCTAssertTrue(huge.err.contains("1099511627776") && !huge.err.contains("2147483647"), huge.summary)
        let half = try LimitedRun.run(["tokenizer", "encode", "--tokenizer", "half.json"], in: dir, stdin: "hi\n")
        XCTAssertEqual(half.status, 1, half.summary)
        XCTAssertTrue(half.err.contains("not an integer id (found 1.5)"), half.summary)

        let weights = try Data(contentsOf: dir.appendingPathComponent("run/step-0000004/optimizer.safetensors"))
        try weights.prefix(weights.count / 3).write(to: dir.appendingPathComponent("cut.safetensors"))
        var messages = Set<String>()
        for _ in 0..<6 {
            let o = try LimitedRun.run(["checkpoint", "inspect", "cut.safetensors"], in: dir)
            XCTAssertEqual(o.status, 1, o.summary)
            messages.insert(o.err)
        }
        XCTAssertEqual(messages.count, 1, "the error changes from run to run: \(messages)")
        XCTAssertTrue(messages.first?.contains("truncated") ?? false, "\(messages)")
    }
}
