import ArgumentParser

/// The `instruct` command: fine-tune, inspect data, generate, evaluate, export, benchmark.
/// This target only parses arguments and prints; the work happens in the libraries.
@main
struct Instruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Instruction-tune small language models on a CPU.",
        discussion: """
            Examples:
              instruct bench ops                      # kernel speed vs raw BLAS
              instruct bench ops --json               # the same as one JSON object
            """,
        subcommands: [
            BenchCommand.self,
            CheckpointCommand.self,
        ])
}
