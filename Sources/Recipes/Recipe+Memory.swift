import Autograd
import Datasets
import Models
import Training

extension Recipe {
    /// The memory plan of a training step of this recipe with `config` (the resolved model
    /// shape): the adapters of `finetune`, `training.batch_size` rows of `data.seq_len`, at
    /// most `headRows` trained targets per micro-batch (nil: every token), and this process's
    /// resident memory now as the baseline.
    func memoryPlan(config: ModelConfig, headRows: Int? = nil) -> MemoryPlan {
        MemoryPlan(config: config, lora: finetune.loraConfig, batch: training.options.microBatchSize, seqLen: data.config.seqLen,
                   headRows: headRows, gradientAccumulation: training.options.gradientAccumulation,
                   activationCheckpointing: training.options.activationCheckpointing, baseline: MemoryStats.residentBytes(),
                   peakSoFar: MemoryStats.peakResidentBytes())
    }

    /// Throws `RecipeError.doesNotFit` when `plan`'s peak is above `machine`'s memory, naming
    /// the recipe keys that drive its largest part and what to change.
    func checkFits(_ plan: MemoryPlan, config: ModelConfig, machine: MemoryStats.MachineMemory) throws {
        guard !plan.fits(in: machine) else { return }
        let perToken = plan.activations + plan.inFlight
        let perWeight = plan.weights + plan.optimizer + plan.gradients
        let b = training.options.microBatchSize, t = data.config.seqLen
        var keys: [String]
        var advice: String
        if perToken >= perWeight {
            keys = ["training.batch_size (\(b))", "data.seq_len (\(t))", "model.layers (\(config.layers))", "model.dim (\(config.dim))"]
            if plan.logits > plan.activations / 2 { keys.append("the vocabulary (\(config.vocabSize))") }
            advice = "lower training.batch_size (training.grad_accum keeps the rows per optimizer step) or data.seq_len, or use a smaller model"
            if !training.options.activationCheckpointing {
                advice += ", or set training.activation_checkpointing: true (each block keeps only its input)"
            }
        } else if let from = model.initFrom {
            keys = ["model.init (\(from): \(Self.describe(config)))"]
            advice = finetune.method == .lora
                ? "start from a smaller model"
                : "train LoRA adapters instead (finetune.method: lora: no gradients or AdamW moments for the base), or start from a smaller model"
        } else {
            keys = ["model.dim (\(config.dim))", "model.layers (\(config.layers))", "model.ffn_dim (\(config.ffnDim))",
                    (model.vocabSize != nil ? "model.vocab_size" : "the tokenizer's vocabulary") + " (\(config.vocabSize))"]
            if config.family == .gpt2 { keys.append("model.context_length (\(config.contextLength))") }
            advice = "make the model smaller"
        }
        throw RecipeError.doesNotFit(source: file, estimate: plan.summary, memory: machine.description, keys: keys, advice: advice)
    }

    /// `llama, 30 layers, dim 576, 134.5M parameters`.
    static func describe(_ c: ModelConfig) -> String {
        "\(c.family.rawValue), \(c.layers) layers, dim \(c.dim), " + String(format: "%.1fM parameters", c.parameterScalars / 1e6)
    }
}

extension Recipe.Setup {
    /// The memory plan of this run's training step, made now: the baseline is what the
    /// process holds with the tokenizer and data loaded, and the head's rows are the most
    /// trained targets of any micro-batch the run will take (`MemoryPlan.mostTrainedTargets`;
    /// this rank's share of each with several ranks).
    public func memoryPlan(ranks: Int = 1, rank: Int = 0) throws -> MemoryPlan {
        let rows = try MemoryPlan.mostTrainedTargets(data: data, options: recipe.trainingOptions, ranks: ranks, rank: rank)
        return recipe.memoryPlan(config: model.config, headRows: rows)
    }

    /// `memory: estimated peak ... of 23.5 GiB (MemTotal in /proc/meminfo)`, the preflight line.
    public func memoryLine(_ plan: MemoryPlan, machine: MemoryStats.MachineMemory = MemoryStats.machineMemory()) -> String {
        "memory: \(plan.summary) of \(machine)"
    }
}
