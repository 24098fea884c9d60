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
              instruct train recipes/quickstart.yaml training.lr=1e-3 training.max_steps=200
              instruct train recipes/dolly-gpt2.yaml data.seq_len=256 output.dir=checkpoints/try2

            The run directory (output.dir) receives recipe.resolved.yaml, tokenizer.json,
            metrics.jsonl (one JSON object per step and evaluation), loss_curve.svg and a
            summary NAME.json. Checkpoints step-NNNNNNN/ are written every training.save_every
            steps (0: only at the end), on Ctrl-C (after the current step), and at the end.

            Resume an interrupted run exactly (same batches, same losses):
              instruct train recipes/quickstart.yaml --resume latest
              instruct train recipes/quickstart.yaml --resume checkpoints/quickstart/step-0000100
            Unsafe recipe changes (model, tokenizer, data, seed, batch_size, grad_accum) are refused.
            """)

    @Argument(help: "The recipe (YAML). See recipes/ for ready ones.")
    var recipe: String

    @Argument(help: "Overrides, key.path=value.")
    var overrides: [String] = []

    @Option(name: .long, help: "Continue a saved run: 'latest' (in output.dir), a run directory or a checkpoint directory.")
    var resume: String?

    func run() throws {
        try reportingErrors {
            let recipe = try Recipe.load(path: self.recipe, overrides: overrides)
            let progress = ProgressPrinter()
            let stop = StopRequest.installForSIGINT()
            let summary = try RecipeTraining.run(recipe, resume: resume, shouldStop: { stop.isRequested },
                                                 events: progress.handle, report: { print($0) })
            if summary.stopped == true {
                var command = "instruct train \(self.recipe)"
                for o in overrides { command += " \(o)" }
                print("stopped at step \(summary.steps) on Ctrl-C; the checkpoint is saved. Continue with:\n  \(command) --resume latest")
            }
        }
    }
}

/// Runs `body`; an error is printed to standard error as `error: ...` (the library's message
/// names the file, key or tensor and says what to do) and the process exits with status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Prints `warning: message` to standard error.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
}
