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
            summary NAME.json.
            """)

    @Argument(help: "The recipe (YAML). See recipes/ for ready ones.")
    var recipe: String

    @Argument(help: "Overrides, key.path=value.")
    var overrides: [String] = []

    func run() throws {
        try reportingErrors {
            let recipe = try Recipe.load(path: self.recipe, overrides: overrides)
            let progress = ProgressPrinter()
            _ = try RecipeTraining.run(recipe, events: progress.handle, report: { print($0) })
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
