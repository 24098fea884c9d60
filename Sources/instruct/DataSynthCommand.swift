import ArgumentParser
import Autograd
import Datasets
import Foundation
import Synth

/// `instruct data synth`: writes the synthetic verifiable-instruction dataset.
struct DataSynth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a synthetic dataset of instructions whose answers can be checked exactly.",
        discussion: """
            Writes DIR/train.jsonl, DIR/heldout.jsonl (Alpaca records plus `family` and a \
            `check` object) and DIR/manifest.json. The same seed always gives the same bytes; \
            no held-out (instruction, input) pair appears in train. See docs/synth.md.

            Examples:
              instruct data synth --out datasets/synth --seed 1
              instruct data synth --out /tmp/s --seed 7 --train 2000 --heldout 400 \\
                  --families add,sort
            """)

    @Option(help: "Directory to write train.jsonl, heldout.jsonl and manifest.json into (created if missing).")
    var out: String

    @Option(help: "Seed of the generator; the same seed gives byte-identical files.")
    var seed: UInt64

    @Option(help: "Number of training examples (digits, or a whole number like 2e4).")
    var train: ExampleCount = 20_000

    @Option(help: "Number of held-out examples.")
    var heldout: ExampleCount = 800

    @Flag(help: "Also write DIR/train_preference.jsonl: each train record as a preference pair, the right answer chosen and a near miss (off by one, two items swapped, one word changed) rejected. See docs/preference.md.")
    var preference = false

    @Option(help: "Comma-separated families to generate (default: the eight core ones; `all` for every family). One of: \(SynthFamily.allCases.map(\.rawValue).joined(separator: ", ")).")
    var families: String?

    mutating func validate() throws {
        if train.value < 0 { throw ValidationError("--train must not be negative, got \(train.value)") }
        if heldout.value < 0 { throw ValidationError("--heldout must not be negative, got \(heldout.value)") }
        // Refused before anything is allocated: the examples are held in memory until written.
        let machine = MemoryStats.machineMemory()
        let bytes = SynthGenerator.estimatedBytes(trainCount: train.value, heldoutCount: heldout.value)
        if bytes > Double(machine.bytes) {
            let flag = train.value >= heldout.value ? "--train \(train.value)" : "--heldout \(heldout.value)"
            let disk = (Double(train.value) + Double(heldout.value)) * 171
            throw ValidationError("\(flag): \(train.value) + \(heldout.value) examples are held in memory until they are written, "
                + "about \(SynthGenerator.bytesPerExample) bytes each: \(MemoryStats.format(bytes)), more than the \(machine) of this machine "
                + "(and about \(MemoryStats.format(disk)) on disk). Ask for at most \(machine.bytes / SynthGenerator.bytesPerExample) examples in all; "
                + "the quickstart uses 20000.")
        }
        _ = try selectedFamilies()
    }

    /// The families named by `--families` (`all`: every family), or the core ones.
    private func selectedFamilies() throws -> [SynthFamily] {
        guard let families else { return SynthFamily.core }
        if families == "all" { return SynthFamily.allCases }
        return try families.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let family = SynthFamily(rawValue: trimmed) else {
                throw ValidationError("--families: unknown family \"\(trimmed)\"; expected some of \(SynthFamily.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return family
        }
    }

    func run() throws {
        var options = SynthOptions()
        options.families = try selectedFamilies()
        // A SynthError prints as "Error: <description>", which names the option or file.
        let dataset = try SynthGenerator.generate(seed: seed, trainCount: train.value, heldoutCount: heldout.value, options: options,
                                                  memoryLimit: MemoryStats.machineMemory().bytes)
        let manifest = try SynthFiles.write(dataset, to: out)
        if preference {
            let (data, pairs) = SynthNearMiss.encodeJSONL(dataset.train, seed: seed)
            let url = URL(fileURLWithPath: out).appendingPathComponent("train_preference.jsonl")
            try data.write(to: url, options: .atomic)
            print("wrote \(url.path): \(pairs) preference pairs (chosen: the answer, rejected: a near miss)")
        }

        print("wrote \(out): \(dataset.train.count) train, \(dataset.heldout.count) held-out examples (seed \(seed), \(manifest.generator) v\(manifest.version))")
        let trainCounts = manifest.splits.first { $0.name == "train" }?.families ?? [:]
        let heldoutCounts = manifest.splits.first { $0.name == "heldout" }?.families ?? [:]
        let width = max(6, options.families.map(\.rawValue.count).max() ?? 0)
        print(pad("family", width) + "  " + pad("train", 6, right: true) + "  " + pad("heldout", 7, right: true) + "  example")
        for family in options.families {
            let example = (dataset.heldout + dataset.train).first { $0.family == family }
            let shown = example.map { "\($0.instruction) | \($0.input) -> \($0.output)" } ?? "-"
            print(pad(family.rawValue, width) + "  "
                  + pad(String(trainCounts[family.rawValue] ?? 0), 6, right: true) + "  "
                  + pad(String(heldoutCounts[family.rawValue] ?? 0), 7, right: true) + "  " + shown)
        }
        for split in manifest.splits {
            print("\(split.file)  sha256 \(split.sha256)")
        }
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}

/// A number of examples on the command line: digits (`20000`) or a whole number in
/// scientific notation (`2e4`, `1e11`), so that a size written either way is read as meant
/// and then checked, not refused as unreadable.
struct ExampleCount: ExpressibleByArgument, ExpressibleByIntegerLiteral {
    var value: Int

    init(integerLiteral value: Int) { self.value = value }

    init?(argument: String) {
        if let n = Int(argument) {
            value = n
        } else if let d = Double(argument), d.isFinite, d == d.rounded(), abs(d) < 9e18 {
            value = Int(d)
        } else {
            return nil
        }
    }

    var defaultValueDescription: String { "\(value)" }
}
