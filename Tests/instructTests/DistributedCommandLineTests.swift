import Foundation
import XCTest

/// Data-parallel training through mpirun, the way a user launches it: two ranks on this
/// machine against one process with the doubled batch, a rank killed mid-run and the job
/// resumed, and the binary's independence from libmpi. Skipped (with the reason) when
/// mpirun is absent; scripts/setup.sh installs Open MPI, so CI runs them.
final class DistributedCommandLineTests: XCTestCase {
    func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("instruct-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }

    /// The first executable `name` on PATH.
    static func onPath(_ name: String) -> URL? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    func mpirun() throws -> URL {
        guard let m = Self.onPath("mpirun") else {
            // Skipped only without Open MPI; scripts/setup.sh installs it, so CI runs this.
            throw XCTSkip("mpirun is not on PATH; scripts/setup.sh installs openmpi-bin")
        }
        return m
    }

    /// Runs `mpirun -np ranks instruct ARGS` in `dir` to the end.
    func runMPI(_ ranks: Int, _ args: [String], in dir: URL, environment: [String: String] = [:]) throws -> CLI.Result {
        try runMPI(["-np", "\(ranks)", CLI.binary.path] + args, in: dir, environment: environment)
    }

    /// Runs `mpirun OPTIONS-AND-PROGRAMS` in `dir` to the end.
    func runMPI(_ programs: [String], in dir: URL, environment: [String: String] = [:]) throws -> CLI.Result {
        let p = Process()
        p.executableURL = try mpirun()
        // --oversubscribe: CI machines may have fewer cores than ranks; root in containers.
        p.arguments = ["--oversubscribe", "--allow-run-as-root"] + programs
        p.currentDirectoryURL = dir
        var env = ProcessInfo.processInfo.environment
        // Containers often forbid the cross-process memory copy (CMA) Open MPI's shared-memory
        // transport uses for large messages; copying through a shared buffer always works.
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = env["OMPI_MCA_btl_vader_single_copy_mechanism"] ?? "none"
        for (k, v) in environment { env[k] = v }
        p.environment = env
        // Files, not pipes: nothing can block on a full pipe while mpirun waits for its ranks.
        let outURL = dir.appendingPathComponent("mpirun-\(UUID().uuidString).out")
        let errURL = dir.appendingPathComponent("mpirun-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return CLI.Result(status: p.terminationStatus, out: try String(contentsOf: outURL, encoding: .utf8),
                          err: try String(contentsOf: errURL, encoding: .utf8), exited: p.terminationReason == .exit)
    }

    /// Synthetic data and a tiny recipe in `dir`.
    func prepare(_ dir: URL, dropout: Double = 0, extraTraining: String = "") throws {
        let synth = try CLI.run(["data", "synth", "--out", "synth", "--seed", "5", "--train", "160", "--heldout", "8"], in: dir)
        XCTAssertEqual(synth.status, 0, synth.err)
        let recipe = """
            seed: 3
            tokenizer: {train: {vocab_size: 300}}
            data:
              datasets: [{path: synth/train.jsonl, template: plain, split: 0.1}]
              seq_len: 64
              cache_dir: null
            model: {dim: 32, layers: 1, heads: 2, dropout: \(dropout)}
            training: {batch_size: 2, max_steps: 8, threads: 1, warmup_steps: 2, lr: 0.003\(extraTraining)}
            eval: {every: 4, batches: 2}
            output: {dir: run}
            """
        try recipe.write(to: dir.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
    }

    /// metrics.jsonl lines, as dictionaries.
    func metrics(_ run: URL) throws -> [[String: Any]] {
        try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// Checks that rank 0's metrics `b` follow the single process's `a` step by step (equal
    /// token counts, losses within 1e-4 relative, all-reduce times only in `b`); returns the
    /// largest loss difference.
    func compareSteps(_ a: [[String: Any]], _ b: [[String: Any]], steps: Int,
                      file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let stepsA = a.filter { $0["loss"] != nil }, stepsB = b.filter { $0["loss"] != nil }
        XCTAssertEqual(stepsA.map { $0["step"] as? Int }, (1...steps).map { $0 }, "steps of the single process", file: file, line: line)
        XCTAssertEqual(stepsB.map { $0["step"] as? Int }, (1...steps).map { $0 }, "one line per step in rank 0's metrics",
                       file: file, line: line)
        var maxDiff = 0.0
        for (x, y) in zip(stepsA, stepsB) {
            let step = x["step"] as? Int ?? -1
            XCTAssertEqual(x["tokens"] as? Int, y["tokens"] as? Int, "tokens at step \(step)", file: file, line: line)
            XCTAssertEqual(x["trained_tokens"] as? Int, y["trained_tokens"] as? Int, "trained tokens at step \(step)", file: file, line: line)
            let l1 = try XCTUnwrap(x["loss"] as? Double), l2 = try XCTUnwrap(y["loss"] as? Double)
            maxDiff = max(maxDiff, abs(l1 - l2))
            XCTAssertEqual(l1, l2, accuracy: 1e-4 * max(1, abs(l1)), "loss at step \(step)", file: file, line: line)
            XCTAssertNil(x["allreduce_s"], "a single process has no all-reduce", file: file, line: line)
            XCTAssertNotNil(y["allreduce_s"] as? Double, "two ranks log the all-reduce time", file: file, line: line)
            XCTAssertNotNil(y["rank_wait_s"] as? Double, "two ranks log the wait for the slowest rank", file: file, line: line)
        }
        return maxDiff
    }

    /// A whole epoch (110 rows) with grad_accum 2: two ranks of 3 rows follow one process of
    /// 6 rows through gradient accumulation and the short last batch (2 rows: one per rank).
    func test_twoRanks_gradAccumAndShortLastBatch_matchOneProcess() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir)
        let common = ["train", "r.yaml", "training.max_steps=null", "training.epochs=1", "training.grad_accum=2", "eval.every=0"]
        let one = try CLI.run(common + ["training.batch_size=6", "output.dir=one"], in: dir)
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertTrue(one.out.contains("110 rows per epoch"), "the fixture changed; adjust the step count: \(one.out)")
        let two = try runMPI(2, common + ["training.batch_size=3", "output.dir=two"], in: dir)
        XCTAssertEqual(two.status, 0, "stdout:\n\(two.out)\nstderr:\n\(two.err)")
        let maxDiff = try compareSteps(try metrics(dir.appendingPathComponent("one")), try metrics(dir.appendingPathComponent("two")),
                                       steps: 10)
        print("two ranks vs one process, grad_accum 2, one epoch: max |loss difference| = \(maxDiff)")
    }

    /// Three ranks of 1 row follow one process of 3 rows over a whole epoch of 110 rows; the
    /// last global batch has 2 rows, so rank 0 gets none and sends zero gradients. The
    /// weight hashes are compared after every step (the sum over three ranks must reach
    /// every rank bit for bit).
    func test_threeRanks_emptyShardOnLastBatch_matchOneProcess() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir)
        let common = ["train", "r.yaml", "training.max_steps=null", "training.epochs=1", "eval.every=0"]
        let one = try CLI.run(common + ["training.batch_size=3", "output.dir=one"], in: dir)
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertTrue(one.out.contains("110 rows per epoch"), "the fixture changed; adjust the step count: \(one.out)")
        let three = try runMPI(3, common + ["training.batch_size=1", "training.sync_check_every=1", "output.dir=three"], in: dir)
        XCTAssertEqual(three.status, 0, "stdout:\n\(three.out)\nstderr:\n\(three.err)")
        let maxDiff = try compareSteps(try metrics(dir.appendingPathComponent("one")),
                                       try metrics(dir.appendingPathComponent("three")), steps: 37)
        print("three ranks vs one process, one epoch: max |loss difference| = \(maxDiff)")
    }

    /// DPO through mpirun: a tiny SFT run is the starting checkpoint (and the reference); two
    /// ranks of 2 pairs follow one process of 4 pairs (losses within float tolerance, the same
    /// tokens), and both log TRL's reward metrics.
    func test_twoRanks_dpo_matchOneProcessWithDoubleBatch() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir)
        let synth = try CLI.run(["data", "synth", "--out", "synth", "--seed", "5", "--train", "160", "--heldout", "8", "--preference"], in: dir)
        XCTAssertEqual(synth.status, 0, synth.err)
        let sft = try CLI.run(["train", "r.yaml", "data.seq_len=128", "output.dir=sft"], in: dir)  // context 128: a row holds both sides
        XCTAssertEqual(sft.status, 0, sft.err)
        let recipe = """
            seed: 3
            data:
              datasets: [{path: synth/train_preference.jsonl, template: plain, split: 0.1}]
              seq_len: 96
              cache_dir: null
            model: {init: sft}
            preference: {beta: 0.1}
            training: {batch_size: 4, max_steps: 4, threads: 1, warmup_steps: 1, lr: 0.003}
            eval: {every: 2, batches: 2}
            output: {dir: run}
            """
        try recipe.write(to: dir.appendingPathComponent("dpo.yaml"), atomically: true, encoding: .utf8)
        let one = try CLI.run(["train", "dpo.yaml", "output.dir=one"], in: dir)
        XCTAssertEqual(one.status, 0, one.err)
        XCTAssertTrue(one.out.contains("held-out reward accuracy"), one.out)
        let two = try runMPI(2, ["train", "dpo.yaml", "training.batch_size=2", "output.dir=two"], in: dir)
        XCTAssertEqual(two.status, 0, "stdout:\n\(two.out)\nstderr:\n\(two.err)")
        let a = try metrics(dir.appendingPathComponent("one")), b = try metrics(dir.appendingPathComponent("two"))
        let maxDiff = try compareSteps(a, b, steps: 4)
        for m in [a, b] {
            let steps = m.filter { $0["loss"] != nil }
            XCTAssertTrue(steps.allSatisfy { $0["rewards/accuracies"] is Double && $0["rewards/margins"] is Double }, "\(steps)")
            XCTAssertTrue(m.contains { $0["eval_rewards/accuracies"] is Double }, "\(m)")
        }
        for (x, y) in zip(a.filter { $0["loss"] != nil }, b.filter { $0["loss"] != nil }) {
            let mx = try XCTUnwrap(x["rewards/margins"] as? Double), my = try XCTUnwrap(y["rewards/margins"] as? Double)
            XCTAssertEqual(mx, my, accuracy: 1e-4 * max(1, abs(mx)))
        }
        print("DPO, two ranks vs one process: max |loss difference| over 4 steps = \(maxDiff)")
    }

    /// Two ranks of batch 2 follow one process of batch 4: the same tokens and trained tokens
    /// at every step, losses and evaluation losses within float tolerance (the sums run in
    /// another order), one metrics line per step (only rank 0 writes), and all-reduce timings.
    func test_twoRanks_matchOneProcessWithDoubleBatch() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir)
        let one = try CLI.run(["train", "r.yaml", "training.batch_size=4", "output.dir=one"], in: dir)
        XCTAssertEqual(one.status, 0, one.err)
        let two = try runMPI(2, ["train", "r.yaml", "training.batch_size=2", "training.sync_check_every=2", "output.dir=two"], in: dir)
        XCTAssertEqual(two.status, 0, "stdout:\n\(two.out)\nstderr:\n\(two.err)")
        XCTAssertTrue(two.out.contains("data parallel: 2 ranks"), two.out)
        XCTAssertTrue(two.out.contains("all-reduce:"), two.out)
        XCTAssertEqual(two.out.components(separatedBy: "done: 8 steps").count - 1, 1, "only rank 0 reports: \(two.out)")

        let a = try metrics(dir.appendingPathComponent("one")), b = try metrics(dir.appendingPathComponent("two"))
        let maxDiff = try compareSteps(a, b, steps: 8)
        let evalA = a.compactMap { $0["eval_loss"] as? Double }, evalB = b.compactMap { $0["eval_loss"] as? Double }
        XCTAssertEqual(evalA.count, 2)
        XCTAssertEqual(evalA.count, evalB.count)
        for (x, y) in zip(evalA, evalB) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x)), "eval loss") }
        XCTAssertEqual(a.compactMap { $0["eval_tokens"] as? Int }, b.compactMap { $0["eval_tokens"] as? Int })
        print("two ranks vs one process: max |loss difference| over 8 steps = \(maxDiff)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("two/two.json"))) as? [String: Any]
        XCTAssertEqual(summary?["ranks"] as? Int, 2)
        XCTAssertNotNil(summary?["allreduce_s_per_step"] as? Double)
    }

    /// Rank 1 is killed (SIGKILL) after step 5 of 8 with checkpoints every 3 steps: mpirun
    /// stops the job and names the rank, step-3 is intact, and resuming with two ranks ends
    /// with the weights and losses of an uninterrupted two-rank run, bit for bit (dropout is
    /// on, so every rank's restored dropout stream matters). One process cannot resume it.
    func test_twoRanks_killedRankThenResume_sameWeightsAsUninterrupted() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir, dropout: 0.1, extraTraining: ", save_every: 3")
        let straight = try runMPI(2, ["train", "r.yaml", "output.dir=straight"], in: dir)
        XCTAssertEqual(straight.status, 0, "stdout:\n\(straight.out)\nstderr:\n\(straight.err)")

        let killed = try runMPI(2, ["train", "r.yaml", "output.dir=killed"], in: dir, environment: ["INSTRUCTKIT_KILL_AT_STEP": "1:5"])
        XCTAssertNotEqual(killed.status, 0, "a killed rank must fail the job: \(killed.out)")
        XCTAssertTrue(killed.err.contains("rank 1"), "mpirun names the rank that died: \(killed.err)")
        let inspect = try CLI.run(["checkpoint", "inspect", "killed/latest"], in: dir)
        XCTAssertEqual(inspect.status, 0, inspect.err)
        XCTAssertTrue(inspect.out.contains("step 3") && inspect.out.contains("verified"), inspect.out)

        let single = try CLI.run(["train", "r.yaml", "output.dir=killed", "--resume", "latest"], in: dir)
        XCTAssertEqual(single.status, 1)
        XCTAssertTrue(single.err.contains("2 rank(s)") && single.err.contains("mpirun -np 2"), single.err)

        let resumed = try runMPI(2, ["train", "r.yaml", "output.dir=killed", "--resume", "latest"], in: dir)
        XCTAssertEqual(resumed.status, 0, "stdout:\n\(resumed.out)\nstderr:\n\(resumed.err)")
        XCTAssertTrue(resumed.out.contains("resuming from") && resumed.out.contains("at step 3"), resumed.out)
        let weightsA = try Data(contentsOf: dir.appendingPathComponent("straight/step-0000008/model.safetensors"))
        let weightsB = try Data(contentsOf: dir.appendingPathComponent("killed/step-0000008/model.safetensors"))
        XCTAssertEqual(weightsA, weightsB, "final weights after kill and resume")
        let lossA = try metrics(dir.appendingPathComponent("straight")).compactMap { $0["loss"] as? Double }
        let lossB = try metrics(dir.appendingPathComponent("killed")).compactMap { $0["loss"] as? Double }
        XCTAssertEqual(lossA.count, 8)
        XCTAssertEqual(lossA.map(\.bitPattern), lossB.map(\.bitPattern), "losses of the resumed run")
    }

    /// Ranks launched with different recipes (here another learning rate on rank 1, through
    /// mpirun's MPMD syntax) would part at the first step: the run refuses to start, naming rank 1.
    /// Another `training.threads` per rank is allowed.
    func test_twoRanks_differentRecipes_refusedNamingTheRank() throws {
        _ = try mpirun()
        let dir = try tempDir()
        try prepare(dir)
        let bin = CLI.binary.path
        let r = try runMPI(["-np", "1", bin, "train", "r.yaml", "output.dir=mixed", ":",
                            "-np", "1", bin, "train", "r.yaml", "output.dir=mixed", "training.lr=0.004"], in: dir)
        XCTAssertNotEqual(r.status, 0, r.out)
        XCTAssertTrue(r.err.contains("rank(s) 1 run another resolved recipe"), r.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("mixed/metrics.jsonl").path),
                       "no training step may run")
        // Only the BLAS thread count differs: allowed, and the weights stay identical (checked every step).
        let threads = try runMPI(["-np", "1", bin, "train", "r.yaml", "output.dir=threads", "training.sync_check_every=1", ":",
                                  "-np", "1", bin, "train", "r.yaml", "output.dir=threads", "training.sync_check_every=1",
                                  "training.threads=2"], in: dir)
        XCTAssertEqual(threads.status, 0, "stdout:\n\(threads.out)\nstderr:\n\(threads.err)")
    }

    /// Without mpirun the binary needs no MPI: libmpi is not a load-time dependency.
    func test_binary_doesNotLinkLibmpi() throws {
        // Skipped only off Linux (no ldd); CI runs on Linux, so there this runs.
        guard let ldd = Self.onPath("ldd") else { throw XCTSkip("no ldd on PATH (not Linux)") }
        let p = Process()
        p.executableURL = ldd
        p.arguments = [CLI.binary.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("libc.so"), "ldd output looks wrong: \(text)")
        XCTAssertFalse(text.contains("libmpi"), "instruct links libmpi at load time:\n\(text)")
    }

    /// CMPI declares Open MPI's functions itself; compiled against Debian's mpi.h (include
    /// flags from `mpicc --showme:compile`, compiled with the toolchain's clang, since mpicc
    /// itself needs gcc), every declaration must match the real one.
    func test_cmpiDeclarations_matchOpenMPIHeader() throws {
        // Skipped only without Open MPI; scripts/setup.sh installs it, so CI runs this.
        guard let mpicc = Self.onPath("mpicc") else { throw XCTSkip("mpicc is not on PATH; scripts/setup.sh installs openmpi-bin") }
        // Skipped only off Linux or without a C compiler; CI has both, so there this runs.
        guard let compiler = Self.onPath("clang") ?? Self.onPath("cc") else { throw XCTSkip("no clang or cc on PATH") }
        let flags = try output(mpicc, ["--showme:compile"]).split(separator: " ").map(String.init).filter { !$0.isEmpty }
        XCTAssertTrue(flags.contains { $0.hasPrefix("-I") }, "mpicc --showme:compile gave no include directory: \(flags)")
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shim = root.appendingPathComponent("Sources/CMPI")
        let p = Process()
        p.executableURL = compiler
        p.arguments = ["-fsyntax-only", "-Wall", "-Werror", "-DCMPI_CHECK_AGAINST_MPI_H"] + flags
            + ["-I", shim.appendingPathComponent("include").path, shim.appendingPathComponent("cmpi_shim.c").path]
        let err = Pipe()
        p.standardError = err
        try p.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)
    }

    /// What `tool ARGS` prints on standard output, trimmed.
    func output(_ tool: URL, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = tool
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
