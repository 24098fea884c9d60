import ArgumentParser
import Foundation

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
            TrainCommand.self, TokenizerCommand.self, BenchCommand.self,
            DataCommand.self,
        ])

    /// Entry point: first make sure BLAS uses this CPU's fast kernels, then parse.
    static func main() {
        BLASCore.reexecIfGeneric()
        // Line-buffer standard output so progress shows up in logs and pipes as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        Self.main(nil)
    }
}
