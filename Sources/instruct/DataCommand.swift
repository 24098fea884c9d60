import ArgumentParser
import Autograd
import Datasets
import Foundation
import Recipes
import Tokenizers

/// `instruct data ...`: look at and produce training data. New data subcommands add a
/// file of their own and one line to `subcommands` here.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect the data a recipe trains on, or write the synthetic quickstart data.",
        subcommands: [
            DataInspectCommand.self, DataSynth.self,
        ])
}

/// `instruct data inspect RECIPE`: one packed row token by token, coloured by role, then the
/// preflight report. Parsing and printing only; the pipeline and rendering live in Datasets.
struct DataInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a packed row token by token (trained, not trained, padding) and the preflight report.",
        discussion: """
            Examples:
              instruct data inspect recipes/NAME.yaml
              instruct data inspect recipes/NAME.yaml --index 3 data.seq_len=1024
              instruct data inspect recipes/NAME.yaml --json
            Colours are used only when stdout is a terminal.
            """)

    @Argument(help: "The recipe (YAML).")
    var recipe: String

    @Argument(help: "Overrides, key.path=value (for example data.seq_len=1024).")
    var overrides: [String] = []

    @Option(help: "Which packed row to show, counting training rows of all datasets in recipe order.")
    var index: Int = 0

    @Flag(help: "Show a validation row instead of a training row.")
    var validation = false

    @Flag(help: "Print only the preflight report, as one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors { try inspect() }
    }

    private func inspect() throws {
        let recipe = try Recipe.load(path: self.recipe, overrides: overrides)
        // The tokenizer as training would have it: loaded from tokenizer.path, or trained
        // from the data when the recipe says tokenizer.train.
        let setup = try recipe.setUp()
        let tokenizer = setup.tokenizer, data = setup.data
        let plan = try setup.memoryPlan(), machine = MemoryStats.machineMemory()
        if json {
            // The preflight report's keys, and the memory plan under "memory".
            var object = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(data.report)) as? [String: Any] ?? [:]
            func bytes(_ x: Double) -> Any { x < 9e18 ? Int(x.rounded()) : x }  // an absurd plan is refused before this
            object["memory"] = ["estimated_peak_bytes": bytes(plan.peak), "baseline_bytes": bytes(plan.baseline),
                                "weights_bytes": bytes(plan.weights), "optimizer_bytes": bytes(plan.optimizer),
                                "gradients_bytes": bytes(plan.gradients), "activations_bytes": bytes(plan.activations),
                                "logits_bytes": bytes(plan.logits), "in_flight_bytes": bytes(plan.inFlight), "checkpoint_bytes": bytes(plan.checkpoint),
                                "machine_bytes": machine.bytes, "machine_source": machine.source] as [String: Any]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        let split: DataSplit = validation ? .validation : .train
        guard let row = data.row(index, split: split) else {
            throw ValidationError("--index \(index) is out of range: there are \(data.rowCount(split)) \(split.rawValue) rows.")
        }
        let style: RowRenderer.Style = isatty(STDOUT_FILENO) != 0 ? .ansi : .plain
        print("\(split.rawValue) row \(index) of \(data.rowCount(split)), seq_len \(data.seqLen):")
        print(RowRenderer.render(row, tokenizer: tokenizer, style: style))
        print(RowRenderer.render(data.report, seqLen: data.seqLen), terminator: "")
        print(setup.memoryLine(plan, machine: machine))
    }
}
