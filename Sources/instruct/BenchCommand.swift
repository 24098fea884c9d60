import ArgumentParser

/// `instruct bench ...`: speed measurements.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure how fast parts of InstructKit run.",
        subcommands: [BenchTokenizer.self])
}
