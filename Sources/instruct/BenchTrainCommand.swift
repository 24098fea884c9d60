import ArgumentParser
import Autograd
import Foundation
import Training

/// `instruct bench train`: steady-state training throughput of a GPT-2 on random tokens,
/// the same model, loss and optimizer as the PyTorch reference (bench/torch_reference.py).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training steps per second of a GPT-2 on random tokens (same math as the PyTorch reference).",
        discussion: """
            Each step is forward + masked cross-entropy (second half of every row) + backward +
            AdamW, timed by wall clock; warm-up steps are excluded and tokens/s uses the median
            step. The share of peak divides 6N + 12 L C T FLOPs per token by a 2048^3 sgemm
            timed in the same process just before. Memory growth compares the resident size
            after the first and the last measured step. Per-step lines go to standard error.

            Examples:
              instruct bench train --config tiny
              instruct bench train --config small --steps 20 --json
              instruct bench train --config gpt2-124m --batch 4 --seq 64
            """)

    @Option(help: "Model size: \(TrainBenchmark.Preset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var config: String = "small"

    @Option(help: "Rows per step (default: the config's, 8 or 4).")
    var batch: Int?

    @Option(help: "Tokens per row (default 256).")
    var seq: Int?

    @Option(help: "Measured steps.")
    var steps: Int = 10

    @Option(help: "Untimed steps first.")
    var warmup: Int = 3

    @Option(help: "Threads for BLAS.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seed of the weights and the random tokens.")
    var seed: UInt64 = 0

    @Flag(inversion: .prefixedNo, help: "Time a 2048^3 sgemm first for the share of peak (--no-sgemm-peak when profiling).")
    var sgemmPeak = true

    @Flag(help: "Print the result as one JSON object.")
    var json = false

    func validate() throws {
        guard let preset = TrainBenchmark.Preset(rawValue: config) else {
            throw ValidationError("--config must be one of \(TrainBenchmark.Preset.allCases.map(\.rawValue).joined(separator: ", ")); got '\(config)'")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard steps >= 2, warmup >= 0 else { throw ValidationError("--steps must be at least 2 and --warmup at least 0") }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1, got \(b)") }
        if let t = seq, t < 2 || t > preset.config.contextLength {
            throw ValidationError("--seq must be in 2...\(preset.config.contextLength) for \(config), got \(t)")
        }
    }

    func run() throws {
        let preset = TrainBenchmark.Preset(rawValue: config)!  // checked in validate()
        let b = batch ?? preset.shape.batch, t = seq ?? preset.shape.time
        let r = try TrainBenchmark.run(config: preset.config, batch: b, time: t, warmup: warmup, steps: steps,
                                       threads: threads, seed: seed, measurePeak: sgemmPeak) { i, ms, loss, measured in
            FileHandle.standardError.write(Data("step \(i) \(measured ? "meas" : "warm") \(f1(ms)) ms loss \(String(format: "%.4f", loss))\n".utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        let c = r.config
        print("instruct bench train: \(config) (\(c.layers) layers, C \(c.dim), \(c.heads) heads, V \(c.vocabSize)), "
              + "\(f2(Double(r.parameterCount) / 1e6)) M parameters, B \(r.batch) x T \(r.time), "
              + "\(r.threads) BLAS thread(s), OpenBLAS core \(r.blasCore)")
        print("steps: \(r.warmupSteps) warm-up, \(r.measuredSteps) measured")
        print("ms/step        median \(f1(r.msPerStepMedian))  min \(f1(r.msPerStepMin))  max \(f1(r.msPerStepMax))")
        print("tokens/s       \(f1(r.tokensPerSecond)) (median step)")
        print("FLOPs/token    \(String(format: "%.3e", r.flopsPerToken)) (6N + 12 L C T)")
        if let share = r.shareOfSgemmPeak, let peak = r.sgemmPeakGflops {
            print("achieved       \(f1(r.achievedGflops)) GFLOP/s = \(String(format: "%.1f", 100 * share))% of a 2048^3 sgemm at \(f1(peak)) GFLOP/s")
        } else {
            print("achieved       \(f1(r.achievedGflops)) GFLOP/s (sgemm peak not measured)")
        }
        print("peak RSS       \(f1(r.peakResidentMiB)) MiB (resident before the model \(f1(r.residentBeforeMiB)) MiB)")
        print("memory growth  \(f1(r.residentFirstMeasuredMiB)) -> \(f1(r.residentLastMeasuredMiB)) MiB over the measured steps "
              + "(\(f1(r.residentGrowthPerStepKiB)) KiB/step)")
        print("loss           \(String(format: "%.4f", r.lossFirst)) -> \(String(format: "%.4f", r.lossLast))")
    }
}
