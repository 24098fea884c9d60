import ArgumentParser
import Checkpoints
import Foundation
import Interop
import Models
import Recipes
import Training

/// `instruct export CKPT --format safetensors|hf|hdf5|peft [--merge] --out PATH`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint's weights for other tools (Hugging Face, safetensors, HDF5, PEFT adapters).",
        discussion: """
            CKPT is a checkpoint directory (step-NNNNNNN; its manifest is verified) or a run
            directory (its latest checkpoint).

            A LoRA checkpoint holds only adapters and the identity of its base (checked by
            SHA-256): --merge writes full weights with the adapters folded in (hf, hdf5,
            safetensors); --format peft writes adapter_model.safetensors + adapter_config.json
            for Hugging Face PEFT, to load on top of the base exported with --format hf.

            Examples:
              instruct export checkpoints/quickstart --format hf \\
                  --out exports/quickstart-hf
              instruct export checkpoints/quickstart/step-0000200 --format hdf5 \\
                  --out exports/quickstart.h5
              instruct export checkpoints/quickstart --format safetensors \\
                  --out exports/quickstart.safetensors
              instruct export checkpoints/smollm2-lora --merge --format gguf \\
                  --gguf-type q8_0 --out exports/smollm2-tuned.gguf
              instruct export checkpoints/stories260k-lora --merge --format hf \\
                  --out exports/stories260k-lora-merged
              instruct export checkpoints/stories260k-lora --format peft \\
                  --out exports/stories260k-lora-peft
            """)

    @Argument(help: "A checkpoint or run directory.")
    var checkpoint: String

    @Option(help: "safetensors, hf, hdf5, gguf (Llama: llama.cpp, ollama) or peft (LoRA adapters only).")
    var format: String = "hf"

    @Option(help: "With --format gguf: f32, f16 or q8_0 (norm weights stay f32).")
    var ggufType: String = "f32"

    @Flag(help: "For a LoRA checkpoint: write the base with the adapters merged in.")
    var merge = false

    @Option(help: "Output file (safetensors, hdf5) or directory (hf).")
    var out: String

    @Option(help: .hidden)
    var dumpLogits: String?

    @Option(help: .hidden)
    var logitTokens: String = "1,2,3,4,5"

    func run() throws {
        try reportingErrors {
            guard let f = ModelExport.Format(rawValue: format) else {
                throw ValidationError("--format must be one of \(ModelExport.Format.allCases.map(\.rawValue).joined(separator: ", ")), not '\(format)'")
            }
            let ckpt = try CheckpointReader.open(try CheckpointDirectory.resolve(checkpoint))
            guard let type = GGUFExport.TensorType(rawValue: ggufType) else {
                throw ValidationError("--gguf-type must be one of \(GGUFExport.TensorType.allCases.map(\.rawValue).joined(separator: ", ")), not '\(ggufType)'")
            }
            let files = try ModelExport.export(ckpt, format: f, to: URL(fileURLWithPath: out), merge: merge, ggufType: type,
                                               card: try ModelCard.of(ckpt))
            for file in files { print("wrote \(file.path)") }
            if let dumpLogits {
                // Reference logits for scripts/check_hf_export.py: one row of tokens, positions 0..T-1.
                let tokens = logitTokens.split(separator: ",").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
                // A LoRA checkpoint runs unmerged (base + adapters), the forward pass training used.
                let card = try ModelCard.of(ckpt)
                let (model, params) = LoRAFiles.isLoRA(ckpt) ? try CheckpointWeights.adapted(ckpt, card: card)
                                                             : try CheckpointWeights.load(ckpt, card: card)
                let logits = model.logits(ModelInput(sequence: tokens), parameters: params)
                let v = model.config.vocabSize
                let s = logits.scalars
                let rows = (0..<tokens.count).map { t in (0..<v).map { Double(s[t * v + $0]) } }
                let json: [String: Any] = ["tokens": tokens.map(Int.init), "logits": rows]
                try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dumpLogits))
                print("wrote \(dumpLogits)")
            }
        }
    }
}

/// `instruct import PATH --out CKPT`.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Turn a GGUF file, a Hugging Face model directory or a llama2.c .bin into a step-0 checkpoint.",
        discussion: """
            Writes CKPT/step-0000000 with model.safetensors (float32), model_card.json (shape,
            tokenizer, chat template, stop ids), model.yaml (the recipe model: section for these
            weights) and the tokenizer (tokenizer.json from the HF directory or built from the
            GGUF's metadata, or the file given with --tokenizer). CKPT must be new or empty
            (an import into a training run's folder would move its `latest`); --force writes
            there anyway.

            Examples:
              instruct import models/SmolLM2-135M-Instruct.Q4_1.gguf \\
                  --out checkpoints/smollm2
              instruct import exports/quickstart-hf --out checkpoints/quickstart-reimported
              instruct import ../shared/datasets/models/stories260K/stories260K.bin \\
                  --tokenizer ../shared/datasets/models/stories260K/tok512.bin \\
                  --out checkpoints/stories260K
            """)

    @Argument(help: "A GGUF file, a Hugging Face model directory (config.json + safetensors) or a llama2.c .bin file.")
    var path: String

    @Option(help: "The run directory to write step-0000000 into.")
    var out: String

    @Option(help: "A tokenizer file to store with the weights (default: the source's own).")
    var tokenizer: String?

    @Flag(help: "Write into --out even when it already holds files (a run folder's `latest` then points at the import).")
    var force = false

    func run() throws {
        try reportingErrors {
            let destination = URL(fileURLWithPath: out)
            try ModelImport.checkDestination(destination, replacing: force)
            let imported = try ModelImport.read(URL(fileURLWithPath: path))
            let dir = try ModelImport.save(imported, in: destination, tokenizer: tokenizer.map { URL(fileURLWithPath: $0) }, replacing: force)
            let c = imported.config
            print("imported \(c.family.rawValue): dim \(c.dim), \(c.layers) layers, \(c.heads) heads (\(c.kvHeads) kv), vocabulary \(c.vocabSize), context \(c.contextLength)")
            print("tokenizer: \(tokenizer ?? (imported.tokenizerJSON != nil ? "the source's" : "none (pass --tokenizer FILE to generate with it)"))")
            print("chat template: \(imported.chatTemplate != nil ? "the source's" : "none (plain prompts)"); stop ids: \(imported.stopTokenIDs.map(String.init).joined(separator: ", "))")
            print("checkpoint: \(dir.path)")
        }
    }
}
