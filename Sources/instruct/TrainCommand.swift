import ArgumentParser
import Foundation
import Recipes
import Training

/// `instruct train RECIPE [key=value ...]`: supervised fine-tuning from a recipe.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a model as a recipe says.",
        discussion: """
            Overrides after the recipe path change any recipe key, typed and checked like the file.

            Examples:
              instruct train recipes/quickstart.yaml
              instruct train recipes/quickstart.yaml training.lr=1e-3 \\
                  training.max_steps=200
              instruct train recipes/dolly-gpt2.yaml data.seq_len=256 \\
                  output.dir=checkpoints/try2

            The run directory (output.dir) receives recipe.resolved.yaml, tokenizer.json,
            metrics.jsonl (one JSON object per step and evaluation) and the same rows in
            metrics.csv, loss_curve.svg (output.tensorboard: true adds a TensorBoard event
            file in tensorboard/) and a summary NAME.json. Checkpoints step-NNNNNNN/ are
            written every training.save_every steps (0: only at the end), on Ctrl-C (after
            the current step), and at the end; training.keep_best: true also keeps the one
            with the lowest validation loss (RUN/best), and training.early_stopping_patience
            stops a run whose validation loss no longer improves (docs/checkpoints.md).

            Resume an interrupted run exactly (same batches, same losses):
              instruct train recipes/quickstart.yaml --resume latest
              instruct train recipes/quickstart.yaml \\
                  --resume checkpoints/quickstart/step-0000100
            Unsafe recipe changes (model, tokenizer, data, seed, batch_size, grad_accum) are refused.

            Data parallel over N processes, on one machine or several (docs/distributed.md):
              mpirun -np 2 instruct train recipes/quickstart.yaml training.threads=1
              mpirun -np 2 instruct train recipes/quickstart.yaml training.threads=1 \\
                  --resume latest
            Each rank trains batch_size rows of every global batch of N x batch_size rows;
            rank 0 writes the run folder. Without mpirun no MPI library is loaded.
            """)

    @Argument(help: "The recipe (YAML). See recipes/ for ready ones.")
    var recipe: String

    @Argument(help: "Overrides, key.path=value.")
    var overrides: [String] = []

    @Option(name: .long, help: "Continue a saved run: 'latest' (in output.dir), a run directory or a checkpoint directory.")
    var resume: String?

    func run() throws {
        var group = ProcessGroup.single
        try reportingErrors(group: { group }) {
            group = try ProcessGroup.fromEnvironment()
            let recipe = try Recipe.load(path: self.recipe, overrides: overrides)
            let progress = ProgressPrinter()
            let stop = StopRequest.installForSIGINT(runDirectory: group.isMain ? URL(fileURLWithPath: recipe.output.dir) : nil)
            let fault = FaultInjection(environment: ProcessInfo.processInfo.environment, rank: group.rank)
            let main = group.isMain
            let summary = try recipe.run(resume: resume, shouldStop: { stop.isRequested }, group: group,
                                         events: { e in
                                             fault.check(e)
                                             if main { progress.handle(e) }
                                         },
                                         report: { if main { print($0) } })
            group.finalize()
            if summary.stopped && main {
                var command = "instruct train \(self.recipe)"
                for o in overrides { command += " \(o)" }
                if group.isDistributed { command = "mpirun -np \(group.size) " + command }
                print("stopped at step \(summary.steps) on request; the checkpoint is saved. Continue with:\n  \(command) --resume latest")
            }
        }
    }
}

/// Runs `body`; an error is printed to standard error as `error: ...` (the library's message
/// names the file, key or tensor and says what to do) and the process exits with status 1.
/// In a data-parallel run the message names the rank, and says that mpirun stops the other
/// ranks and how to continue from the last checkpoint.
func reportingErrors(group: () -> ProcessGroup = { .single }, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        let g = group()
        var line = "error: \(error)\n"
        if g.isDistributed {
            var host = [CChar](repeating: 0, count: 256)
            gethostname(&host, host.count - 1)
            line = "error: rank \(g.rank) of \(g.size) (\(String(cString: host))): \(error)\n"
                + "mpirun stops the other ranks. Checkpoints already written in output.dir are intact: fix the cause, "
                + "then relaunch the same mpirun command with --resume latest.\n"
        }
        FileHandle.standardError.write(Data(line.utf8))
        throw ExitCode.failure
    }
}

/// A test switch for failure handling: `INSTRUCTKIT_KILL_AT_STEP=RANK:STEP` makes rank RANK
/// kill itself with SIGKILL (as a crash or an out-of-memory kill would) right after step STEP
/// is logged. Unset, it does nothing.
struct FaultInjection {
    var step: Int?

    init(environment: [String: String], rank: Int) {
        let parts = environment["INSTRUCTKIT_KILL_AT_STEP"]?.split(separator: ":").compactMap { Int($0) } ?? []
        step = parts.count == 2 && parts[0] == rank ? parts[1] : nil
    }

    func check(_ event: TrainingEvent) {
        guard let step, case let .step(m) = event, m.step == step else { return }
        FileHandle.standardError.write(Data("INSTRUCTKIT_KILL_AT_STEP: killing this rank after step \(step)\n".utf8))
        kill(getpid(), SIGKILL)
    }
}

/// The most threads a command accepts: far above any machine this runs on, and low enough
/// that per-thread buffers and OpenBLAS's Int32 count cannot overflow.
let maximumThreads = 1024

/// Refuses a `--threads` value outside 1...`maximumThreads` with a usage error (0 and
/// negative counts trapped in BLAS and in the thread split before).
func validateThreads(_ threads: Int, option: String = "--threads") throws {
    guard (1...maximumThreads).contains(threads) else {
        throw ValidationError("\(option) must be between 1 and \(maximumThreads), got \(threads)")
    }
}

/// Prints `warning: message` to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
