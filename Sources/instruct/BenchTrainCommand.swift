import ArgumentParser
import Autograd
import Foundation
import Inference
import Interop
import Models
import NN
import Recipes
import Training

/// `instruct bench train`: steady-state training throughput on random tokens of a GPT-2
/// preset (the same model, loss and optimizer as bench/torch_reference.py) or of a real
/// model (`--model`: the same as scripts/bench_real_model_torch.py, transformers + PEFT).
struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training steps per second on random tokens: a GPT-2 preset or a real model (--model).",
        discussion: """
            Each step is forward + masked cross-entropy (second half of every row) + backward +
            AdamW (lr 3e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.1 on every trained tensor),
            timed by wall clock; warm-up steps are excluded and tokens/s uses the median
            step. The share of peak divides 6N + 12 L C T FLOPs per token (4N + 6A + 12 L C T
            with LoRA, A adapter scalars) by a 2048^3 sgemm timed in the same process just
            before. Peak RSS is VmHWM (loading the weights included). Memory growth compares the
            resident size after the first and the last measured step. Per-step lines go to
            standard error.

            --model PATH benchmarks a real model instead of a preset: a GGUF file, a Hugging Face
            model directory (config.json + safetensors) or a checkpoint written by instruct
            (import, train). Its default shape is 4 x 512 and its default LoRA targets are all
            seven Llama projections (q,k,v,o,gate,up,down).

            --precision bf16 runs the forward and backward products with bfloat16 operands and
            float32 accumulation (CPUs with AVX512_BF16: Intel Cooper Lake, Sapphire Rapids and
            later, AMD Zen 4 and later; docs/performance.md); weights and AdamW stay float32.

            --finetune lora trains rank-r adapters on a frozen copy of the same model (its base
            gets no gradients and no AdamW moments); --finetune compare runs full and LoRA each in
            a fresh process of this binary (so each peak resident size is its own) and prints
            them side by side.

            Examples:
              instruct bench train --config tiny
              instruct bench train --config small --steps 20 --json
              instruct bench train --config gpt2-124m --batch 4 --seq 64
              instruct bench train --config small --finetune compare
              instruct bench train --config small --finetune lora --lora-rank 16 \\
                  --lora-targets qkv,o
              instruct bench train --model models/SmolLM2-135M-Instruct.Q4_1.gguf \\
                  --finetune lora
              instruct bench train --model models/SmolLM2-135M-Instruct-hf \\
                  --finetune full --batch 4 --seq 512
              instruct bench train --model models/SmolLM2-135M-Instruct-hf \\
                  --finetune lora --precision bf16
              instruct bench train --model models/SmolLM2-135M-Instruct-hf \\
                  --finetune full --activation-checkpointing
            """)

    @Option(help: "Model size: \(TrainBenchmark.Preset.allCases.map(\.rawValue).joined(separator: ", ")) (default small; not with --model).")
    var config: String?

    @Option(help: "A real model: a GGUF file, a Hugging Face model directory or an instruct checkpoint.")
    var model: String?

    @Option(help: "Rows per step (default: the config's, 8 or 4; 4 with --model).")
    var batch: Int?

    @Option(help: "Tokens per row (default 256; 512 with --model).")
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

    @Option(help: "full, lora, or compare (both, side by side, each in its own process).")
    var finetune: String = "full"

    @Option(help: "LoRA rank.")
    var loraRank: Int = 8

    @Option(help: "Number format of the forward and backward products: float32, or bf16 (CPUs with AVX512_BF16).")
    var precision: String = "float32"

    @Option(help: "LoRA targets, comma-separated: GPT-2 qkv, o, up, down (default all four); Llama q, k, v, o, gate, up, down (default all seven).")
    var loraTargets: String?

    @Flag(help: "Checkpoint every block: keep only its input in the forward pass, run it again in the backward pass (less memory, more time; the recipe key training.activation_checkpointing).")
    var activationCheckpointing = false

    /// The adapters of `--finetune lora` for a model of `family`.
    func loraConfig(family: ModelFamily) throws -> LoRAConfig {
        let available = LoRATarget.available(in: family)
        let names = loraTargets.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            ?? available.map(\.rawValue)
        var targets: [LoRATarget] = []
        for name in names {
            guard let t = LoRATarget(rawValue: name), t.moduleSuffix(in: family) != nil else {
                throw ValidationError("--lora-targets: '\(name)' is not a \(family.rawValue) projection; use \(available.map(\.rawValue).joined(separator: ", "))")
            }
            targets.append(t)
        }
        return LoRAConfig(rank: loraRank, alpha: Float(2 * loraRank), targets: targets)
    }

    func validate() throws {
        if model != nil, config != nil { throw ValidationError("give --config (a GPT-2 preset) or --model (a real model), not both") }
        if let config, TrainBenchmark.Preset(rawValue: config) == nil {
            throw ValidationError("--config must be one of \(TrainBenchmark.Preset.allCases.map(\.rawValue).joined(separator: ", ")); got '\(config)'")
        }
        try validateThreads(threads)
        guard steps >= 2, warmup >= 0 else { throw ValidationError("--steps must be at least 2 and --warmup at least 0") }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1, got \(b)") }
        if let t = seq, t < 2 { throw ValidationError("--seq must be at least 2, got \(t)") }
        if model == nil, let t = seq, t > preset.config.contextLength {
            throw ValidationError("--seq must be in 2...\(preset.config.contextLength) for \(preset.rawValue), got \(t)")
        }
        guard let p = Precision(rawValue: precision) else {
            throw ValidationError("--precision must be \(Precision.allCases.map(\.rawValue).joined(separator: " or ")); got '\(precision)'")
        }
        if p == .bf16, let missing = BLAS.bf16MissingFeature {
            throw ValidationError("--precision bf16 needs a CPU with AVX512_BF16; this CPU lacks \(missing)")
        }
        guard ["full", "lora", "compare"].contains(finetune) else {
            throw ValidationError("--finetune must be full, lora or compare; got '\(finetune)'")
        }
        if finetune != "full", model == nil {
            let problems = DecoderModel.loraProblems(try loraConfig(family: .gpt2), config: preset.config)
            if let p = problems.first { throw ValidationError("--lora-rank/--lora-targets: \(p)") }
        }
    }

    /// The preset of `--config` (small when neither it nor --model is given).
    var preset: TrainBenchmark.Preset { config.flatMap(TrainBenchmark.Preset.init(rawValue:)) ?? .small }

    /// The config and weights of `--model`: a GGUF file or Hugging Face directory through
    /// `ModelImport`, anything else as an instruct checkpoint (`LoadedModel.open`).
    static func loadModel(_ path: String) throws -> (ModelConfig, Parameters) {
        let url = URL(fileURLWithPath: path)
        var isDir: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let hfFolder = isDir.boolValue && FileManager.default.fileExists(atPath: url.appendingPathComponent("config.json").path)
        if exists && (hfFolder || url.pathExtension.lowercased() == "gguf") {
            let imported = try ModelImport.read(url)
            return (imported.config, imported.parameters)
        }
        let loaded = try LoadedModel.open(path: path, verify: false)
        return (loaded.model.config, loaded.parameters)
    }

    func run() throws {
        if finetune == "compare" { return try compare() }
        let residentBefore = MemoryStats.residentBytes()
        let modelConfig: ModelConfig, weights: Parameters?
        if let model {
            (modelConfig, weights) = try Self.loadModel(model)
        } else {
            (modelConfig, weights) = (preset.config, nil)
        }
        let b = batch ?? (model == nil ? preset.shape.batch : 4), t = seq ?? (model == nil ? preset.shape.time : 512)
        guard t <= modelConfig.contextLength else {
            throw ValidationError("--seq \(t) is longer than the model's context of \(modelConfig.contextLength) tokens")
        }
        let lora = finetune == "lora" ? try loraConfig(family: modelConfig.family) : nil
        if let lora, let p = DecoderModel.loraProblems(lora, config: modelConfig).first {
            throw ValidationError("--lora-rank/--lora-targets: \(p)")
        }
        let r = try TrainBenchmark.run(config: modelConfig, weights: consume weights, batch: b, time: t, warmup: warmup, steps: steps,
                                       threads: threads, seed: seed, measurePeak: sgemmPeak, lora: lora,
                                       precision: Precision(rawValue: precision) ?? .float32,  // checked in validate()
                                       activationCheckpointing: activationCheckpointing,
                                       residentBefore: residentBefore) { i, ms, loss, measured in
            let rss = Double(MemoryStats.residentBytes()) / (1024 * 1024)
            FileHandle.standardError.write(Data("step \(i) \(measured ? "meas" : "warm") \(f1(ms)) ms loss \(String(format: "%.4f", loss)) rss \(f1(rss)) MiB\n".utf8))
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
            return
        }
        let c = r.config
        print("instruct bench train: \(model ?? preset.rawValue) (\(c.family.rawValue), \(c.layers) layers, C \(c.dim), \(c.heads) heads, V \(c.vocabSize)), "
              + "\(f2(Double(r.parameterCount) / 1e6)) M parameters, B \(r.batch) x T \(r.time), "
              + "\(r.threads) BLAS thread(s), OpenBLAS core \(r.blasCore), products \(r.precision.rawValue)")
        print("steps: \(r.warmupSteps) warm-up, \(r.measuredSteps) measured")
        if let l = r.lora {
            print("finetune       lora rank \(l.settings.rank), targets \(l.targets.map(\.rawValue).joined(separator: ",")): "
                  + "\(r.trainableParameterCount) trainable parameters, AdamW state \(f2(r.optimizerStateMiB)) MiB")
        } else {
            print("finetune       full: \(r.trainableParameterCount) trainable parameters, AdamW state \(f2(r.optimizerStateMiB)) MiB")
        }
        if r.activationCheckpointing { print("checkpointing  every block keeps only its input; blocks run again in backward") }
        print("ms/step        median \(f1(r.msPerStepMedian))  min \(f1(r.msPerStepMin))  max \(f1(r.msPerStepMax))")
        print("tokens/s       \(f1(r.tokensPerSecond)) (median step)")
        print("FLOPs/token    \(String(format: "%.3e", r.flopsPerToken)) (\(r.lora == nil ? "6N" : "4N + 6A") + 12 L C T)")
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

    /// Runs this binary twice (`--finetune full` and `--finetune lora`, `--json`, no sgemm
    /// peak so neither process holds its buffers) and prints the two results side by side.
    func compare() throws {
        var results: [TrainBenchmark.Result] = []
        for mode in ["full", "lora"] {
            var args = ["bench", "train", "--steps", "\(steps)", "--warmup", "\(warmup)",
                        "--threads", "\(threads)", "--seed", "\(seed)", "--no-sgemm-peak", "--json", "--finetune", mode,
                        "--lora-rank", "\(loraRank)", "--precision", precision]
            args += model.map { ["--model", $0] } ?? ["--config", preset.rawValue]
            if let loraTargets { args += ["--lora-targets", loraTargets] }
            if let batch { args += ["--batch", "\(batch)"] }
            if let seq { args += ["--seq", "\(seq)"] }
            if activationCheckpointing { args.append("--activation-checkpointing") }
            FileHandle.standardError.write(Data("running \(mode)...\n".utf8))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            process.arguments = args
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw ValidationError("the \(mode) run exited with status \(process.terminationStatus)")
            }
            results.append(try JSONDecoder().decode(TrainBenchmark.Result.self, from: data))
        }
        let (full, lora) = (results[0], results[1])
        let c = full.config
        print("instruct bench train --finetune compare: \(model ?? preset.rawValue) (\(c.layers) layers, C \(c.dim), V \(c.vocabSize)), "
              + "\(f2(Double(full.parameterCount) / 1e6)) M parameters, B \(full.batch) x T \(full.time), \(full.threads) BLAS thread(s), "
              + "\(full.measuredSteps) measured steps, each mode in its own process")
        func row(_ name: String, _ a: String, _ b: String) {
            print(name.padding(toLength: 26, withPad: " ", startingAt: 0) + a.leftPadded(14) + b.leftPadded(24))
        }
        let l = lora.lora!  // the lora run was given --finetune lora
        row("", "full", "lora r\(l.settings.rank) \(l.targets.map(\.rawValue).joined(separator: ","))")
        row("trainable parameters", "\(full.trainableParameterCount)", "\(lora.trainableParameterCount)")
        row("AdamW state MiB", f2(full.optimizerStateMiB), f2(lora.optimizerStateMiB))
        row("peak RSS MiB", f1(full.peakResidentMiB), f1(lora.peakResidentMiB))
        row("ms/step median", f1(full.msPerStepMedian), f1(lora.msPerStepMedian))
        row("ms/step min", f1(full.msPerStepMin), f1(lora.msPerStepMin))
        row("tokens/s", f1(full.tokensPerSecond), f1(lora.tokensPerSecond))
        print("LoRA / full: peak RSS \(f2(lora.peakResidentMiB / full.peakResidentMiB))x, median step time \(f2(lora.msPerStepMedian / full.msPerStepMedian))x")
    }
}

private extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}
