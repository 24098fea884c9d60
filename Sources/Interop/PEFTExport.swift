import Checkpoints
import Foundation
import Models
import NN

/// Writes a LoRA checkpoint's adapters as a Hugging Face PEFT adapter directory:
///
///     adapter_model.safetensors   base_model.model.<HF module>.lora_A.weight [r, in]
///                                 base_model.model.<HF module>.lora_B.weight [out, r]
///     adapter_config.json         peft_type LORA, r, lora_alpha, lora_dropout, target_modules,
///                                 fan_in_fan_out (true for GPT-2's Conv1D layers)
///
/// Our adapter shapes are PEFT's for both layouts (PEFT keeps lora_A/lora_B as nn.Linear
/// even on a Conv1D base, and only transposes the merged update when fan_in_fan_out), so
/// the tensors are written unchanged. `scripts/check_peft_export.py` loads the result with
/// `peft` on top of the base exported with `--format hf` and compares logits with ours.
public enum PEFTExport {
    /// PEFT's prefix of saved adapter tensors for a causal LM (`PeftModelForCausalLM`).
    public static let keyPrefix = "base_model.model."

    /// Writes the directory `out`; returns the files written.
    public static func write(_ checkpoint: Checkpoint, card: ModelCard, to out: URL) throws -> [URL] {
        guard LoRAFiles.isLoRA(checkpoint) else {
            throw InteropError.invalid(path: checkpoint.directory.path,
                                       reason: "not a LoRA checkpoint (no \(LoRAFiles.adapters)); --format peft exports adapters, use --format hf for full weights")
        }
        let config = card.config
        let lora = try CheckpointWeights.loraConfig(of: checkpoint)
        let model = try CheckpointWeights.decoder(config, lora: lora, file: checkpoint.directory.appendingPathComponent(LoRAFiles.config).path)
        let adapters = try checkpoint.tensors(LoRAFiles.adapters)
        do {
            try model.validateAdapters(Parameters(adapters.entries.map { ($0.name, $0.tensor) }))
        } catch {
            throw InteropError.invalid(path: checkpoint.directory.appendingPathComponent(LoRAFiles.adapters).path, reason: "\(error)")
        }
        let tensors = NamedTensors(model.adapterShapes.compactMap { s in adapters[s.name].map { (keyPrefix + s.name, $0) } },
                                   metadata: ["format": "pt"])
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw InteropError.invalid(path: out.path, reason: "cannot create the export directory (\(error.localizedDescription))")
        }
        let weightsURL = out.appendingPathComponent("adapter_model.safetensors")
        try SafeTensors.write(tensors, to: weightsURL)
        let configURL = out.appendingPathComponent("adapter_config.json")
        let data = try JSONSerialization.data(withJSONObject: adapterConfig(lora, family: config.family),
                                              options: [.prettyPrinted, .sortedKeys])
        do { try data.write(to: configURL, options: .atomic) } catch {
            throw InteropError.invalid(path: configURL.path, reason: "cannot write (\(error.localizedDescription))")
        }
        return [weightsURL, configURL]
    }

    /// PEFT's `LoraConfig` as JSON. `target_modules` are module-name suffixes (PEFT matches
    /// a module whose name ends with `.` + entry), so GPT-2's two `c_proj` stay apart
    /// (`attn.c_proj`, `mlp.c_proj`).
    public static func adapterConfig(_ lora: LoRAConfig, family: ModelFamily) -> [String: Any] {
        let modules = LoRATarget.allCases.filter { lora.targets.contains($0) }.compactMap { $0.moduleSuffix(in: family) }
        return ["peft_type": "LORA", "task_type": "CAUSAL_LM", "r": lora.settings.rank,
                "lora_alpha": Double(lora.settings.alpha), "lora_dropout": Double(lora.settings.dropout),
                "target_modules": modules, "fan_in_fan_out": family == .gpt2, "bias": "none",
                "inference_mode": true, "init_lora_weights": true, "use_rslora": false, "use_dora": false,
                "modules_to_save": NSNull(), "layers_to_transform": NSNull(), "layers_pattern": NSNull(),
                "rank_pattern": [String: Any](), "alpha_pattern": [String: Any](),
                "base_model_name_or_path": NSNull(), "revision": NSNull()]
    }
}
