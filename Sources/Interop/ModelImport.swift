import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
import NN
import Tokenizers

/// Import of someone else's weights as a step-0 checkpoint: a GGUF file (llama.cpp, ollama),
/// a Hugging Face directory as transformers 4.x and 5.x save it, or a llama2.c `.bin`.
/// Whatever the source says about the model (shape, tokenizer, chat template, stop ids) goes
/// into the checkpoint's model card, so `generate`, `chat`, `eval` and `model.init` need
/// nothing else.
public enum ModelImport {
    /// What an import produced.
    public struct Imported {
        public var config: ModelConfig
        /// HF-named tensors in the model's parameter order.
        public var parameters: Parameters
        /// The beginning-of-sequence id, when the source names one.
        public var bos: Int32?
        /// The ids that end an answer (EOS and end-of-turn ids), first the EOS.
        public var stopTokenIDs: [Int32]
        /// The tokenizer the source carries: a tokenizer.json's bytes (HF folder, or built from
        /// GGUF metadata), nil when the caller must give one (`--tokenizer`).
        public var tokenizerJSON: Data?
        /// The source's chat template (Jinja), when it has one.
        public var chatTemplate: String?
        /// The BOS and EOS texts the chat template sees as `bos_token` / `eos_token`.
        public var bosToken: String?
        public var eosToken: String?
        /// What was imported (the path given).
        public var source: String

        public init(config: ModelConfig, parameters: Parameters, bos: Int32? = nil, stopTokenIDs: [Int32] = [],
                    tokenizerJSON: Data? = nil, chatTemplate: String? = nil, source: String = "") {
            self.config = config
            self.parameters = parameters
            self.bos = bos
            self.stopTokenIDs = stopTokenIDs
            self.tokenizerJSON = tokenizerJSON
            self.chatTemplate = chatTemplate
            self.source = source
        }
    }

    /// Reads `path`: a directory is a Hugging Face model, a `.gguf` file a GGUF model, any other
    /// file a llama2.c checkpoint.
    public static func read(_ path: URL) throws -> Imported {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDir) else {
            throw InteropError.invalid(path: path.path, reason: "does not exist; give a GGUF file, a Hugging Face model directory or a llama2.c .bin")
        }
        if isDir.boolValue { return try HFFolder.read(path) }
        if path.pathExtension.lowercased() == "gguf" { return try GGUFImport.read(path) }
        let m = try Llama2c.read(contentsOf: path)
        let c = m.config
        let config = ModelConfig(family: .llama, vocabSize: c.vocabSize, contextLength: c.seqLen, dim: c.dim, layers: c.layers,
                                 heads: c.heads, kvHeads: c.kvHeads, ffnDim: c.hiddenDim, normEps: 1e-5, ropeTheta: 10000,
                                 tiedEmbeddings: c.tiedEmbeddings)
        return Imported(config: config, parameters: try ordered(m.tensors, config: config, path: path.path), bos: 1,
                        stopTokenIDs: [2], source: path.path)
    }

    /// Refuses a config whose weights could not be held or whose size the file contradicts,
    /// before anything is allocated for them or listed per tensor: its Float32 weights must
    /// fit in `machine`'s memory, and it may not describe far more tensors (more than twice,
    /// plus 16) than the file holds (`fileTensors`; nil when not known yet). `keys` maps what
    /// grows the model to the file's key names (`layers: num_hidden_layers`, ...), so the
    /// message names them with their values.
    static func checkSize(_ config: ModelConfig, path: String, keys: SizeKeys, fileTensors: Int? = nil,
                          machine: MemoryStats.MachineMemory = MemoryStats.machineMemory()) throws {
        let shape = "\(keys.layers) \(config.layers), \(keys.dim) \(config.dim), \(keys.ffn) \(config.ffnDim), \(keys.vocab) \(config.vocabSize)"
        // An invalid shape is refused by the reader's own checks, naming the key, before
        // anything is allocated; the sizes below are only meaningful for a valid one.
        guard config.problems().isEmpty else { return }
        let bytes = 4 * config.parameterScalars
        if bytes > Double(machine.bytes) {
            throw InteropError.invalid(
                path: path,
                reason: "describes a model of \(String(format: "%.3g", config.parameterScalars)) parameters (\(shape)): its Float32 weights alone need \(MemoryStats.format(bytes)), more than the \(machine) of this machine; check those keys")
        }
        // Far more tensors than the file holds (a layer count off by orders of magnitude) is
        // refused here, before they are listed; a few more are left to the per-tensor check,
        // which names the first one missing.
        if let fileTensors, config.parameterTensorCount > 2 * Double(fileTensors) + 16 {
            throw InteropError.invalid(
                path: path,
                reason: "describes \(String(format: "%.0f", config.parameterTensorCount)) weight tensors (\(shape)), but the weights hold \(fileTensors); the config and the weights disagree")
        }
    }

    /// The names a file format gives the sizes that grow a model, for `checkSize`'s messages.
    struct SizeKeys {
        var layers: String, dim: String, ffn: String, vocab: String
        static let hf = SizeKeys(layers: "num_hidden_layers", dim: "hidden_size", ffn: "intermediate_size", vocab: "vocab_size")
        static let hfGPT2 = SizeKeys(layers: "n_layer", dim: "n_embd", ffn: "n_inner", vocab: "vocab_size")
        static let gguf = SizeKeys(layers: "llama.block_count", dim: "llama.embedding_length", ffn: "llama.feed_forward_length",
                                   vocab: "vocabulary")
    }

    /// The model's parameters taken from `tensors` in parameter order (see `CheckpointWeights.ordered`).
    static func ordered(_ tensors: NamedTensors, config: ModelConfig, path: String) throws -> Parameters {
        try CheckpointWeights.ordered(tensors, model: try CheckpointWeights.decoder(config, lora: nil, file: path), path: path)
    }

    /// Throws `CheckpointError.runDirectoryNotEmpty` when `runDirectory` holds anything (its
    /// lock file aside) and `replacing` is false, `io` when it is a file. A missing directory
    /// is fine. `save` checks it again; the command line checks it first as well, before
    /// spending time reading a large model.
    public static func checkDestination(_ runDirectory: URL, replacing: Bool) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: runDirectory.path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else {
            throw CheckpointError.io(path: runDirectory.path, operation: "import into", reason: "it is a file, not a directory")
        }
        guard !replacing else { return }
        let names: [String]
        do {
            names = try fm.contentsOfDirectory(atPath: runDirectory.path).filter { $0 != RunLock.fileName }.sorted()
        } catch {
            throw CheckpointError.io(path: runDirectory.path, operation: "list", reason: error.localizedDescription)
        }
        guard !names.isEmpty else { return }
        let steps = names.filter { CheckpointDirectory.step(fromDirectoryName: $0) != nil }
        let what = steps.isEmpty
            ? "is not empty (\(names.prefix(5).joined(separator: ", "))\(names.count > 5 ? ", ..." : ""))"
            : "is a run folder with \(steps.count) checkpoint(s) (\(steps.suffix(3).joined(separator: ", ")))"
        throw CheckpointError.runDirectoryNotEmpty(
            path: runDirectory.path, what: what,
            remedy: "An import there would point its `latest` at the import and break that run's --resume; import into a new folder, or pass --force to write step-0000000 there anyway.")
    }

    /// The recipe `model:` section for `config`, to paste into a recipe that fine-tunes it.
    public static func recipeModelYAML(_ c: ModelConfig) -> String {
        var y = "model:\n  family: \(c.family.rawValue)\n  vocab_size: \(c.vocabSize)\n  context_length: \(c.contextLength)\n"
        y += "  dim: \(c.dim)\n  layers: \(c.layers)\n  heads: \(c.heads)\n"
        if c.family == .llama { y += "  kv_heads: \(c.kvHeads)\n" }
        y += "  ffn_dim: \(c.ffnDim)\n  norm_eps: \(c.normEps)\n"
        if c.family == .llama { y += "  rope_theta: \(c.ropeTheta)\n" }
        y += "  tied_embeddings: \(c.tiedEmbeddings)\n"
        return y
    }

    /// Writes `imported` as `runDirectory/step-0000000`: model.safetensors, the model card,
    /// model.yaml (the recipe `model:` section, to paste) and the tokenizer: `tokenizer` when
    /// given (`tokenizer.json` for a JSON file, else `tokenizer.bin`, the llama2.c format),
    /// else the source's. The card's template is the source's chat template when it has one,
    /// else `plain` (a base model was not instruction-tuned in any format). Returns the
    /// directory.
    ///
    /// `runDirectory` must be new or empty: an import into a run folder that holds anything
    /// would point its `latest` at the import and break that run's `--resume latest`. With
    /// `replacing` (`instruct import --force`) it is written anyway: step-0000000 is replaced
    /// and `latest` points at it; other files stay. The folder is locked (`RunLock`) while
    /// the import writes, so it cannot land in a run that is training.
    public static func save(_ imported: Imported, in runDirectory: URL, tokenizer: URL? = nil, replacing: Bool = false) throws -> URL {
        let lock = try RunLock.acquire(runDirectory: runDirectory, command: "instruct import \(imported.source)")
        defer { lock.release() }
        try checkDestination(runDirectory, replacing: replacing)
        var files: [String: CheckpointFile] = [:]
        files["model.safetensors"] = .tensors(NamedTensors(imported.parameters.pairs.map { ($0.name, $0.tensor) },
                                                           metadata: ["format": "pt", "producer": "instructkit import"]))
        files["model.yaml"] = .bytes(Data(recipeModelYAML(imported.config).utf8))
        var tokenizerFile = ""
        if let tokenizer {
            let data: Data
            do { data = try Data(contentsOf: tokenizer) } catch {
                throw InteropError.invalid(path: tokenizer.path, reason: "cannot read the tokenizer (\(error.localizedDescription))")
            }
            tokenizerFile = tokenizer.pathExtension == "json" ? "tokenizer.json" : "tokenizer.bin"
            files[tokenizerFile] = .bytes(data)
        } else if let json = imported.tokenizerJSON {
            tokenizerFile = "tokenizer.json"
            files[tokenizerFile] = .bytes(json)
        }
        var template = TemplateKind.plain
        if let source = imported.chatTemplate {
            do {
                template = .jinja(try JinjaChat(source: source, bosToken: imported.bosToken, eosToken: imported.eosToken))
            } catch {
                throw InteropError.unsupported(path: imported.source, key: "chat_template", reason: "\(error)")
            }
        }
        let card = ModelCard(config: imported.config, tokenizer: tokenizerFile, template: template, bosTokenID: imported.bos,
                             stopTokenIDs: imported.stopTokenIDs, source: imported.source)
        files[ModelCard.fileName] = .bytes(try card.encoded())
        return try CheckpointWriter.save(step: 0, in: runDirectory, files: files, keepLast: nil)
    }
}

/// A Hugging Face model directory as transformers 4.x and 5.x save it: config.json (read
/// strictly, `HFConfig`), model.safetensors or shards listed in model.safetensors.index.json
/// (F32, F16 or BF16), generation_config.json (EOS ids), tokenizer.json, and the chat template
/// from chat_template.jinja or tokenizer_config.json.
enum HFFolder {
    static func read(_ dir: URL) throws -> ModelImport.Imported {
        let configURL = dir.appendingPathComponent("config.json")
        let json = try readObject(configURL, required: "a Hugging Face model directory needs config.json")
        let hf = try HFConfig(json ?? [:], path: configURL.path)
        let keys: ModelImport.SizeKeys = hf.model.family == .gpt2 ? .hfGPT2 : .hf
        try ModelImport.checkSize(hf.model, path: configURL.path, keys: keys)
        var tensors = try weights(dir)
        // Before anything lists the config's tensors one by one (a billion layers would). The
        // file may hold more (buffers, a tied head), never fewer.
        try ModelImport.checkSize(hf.model, path: configURL.path, keys: keys, fileTensors: tensors.count)
        if hf.model.family == .gpt2 && !tensors.names.contains(where: { $0.hasPrefix("transformer.") }) {
            tensors = tensors.prefixed("transformer.")  // the original gpt2 hub files omit the prefix
        }
        if !hf.model.tiedEmbeddings && hf.model.family == .llama && tensors["lm_head.weight"] == nil {
            throw InteropError.invalid(path: dir.path, reason: "config.json says tie_word_embeddings false, but the weights have no lm_head.weight")
        }
        try refuseExtraTensors(tensors, config: hf.model, path: dir.path)
        var stops = hf.eosTokenIDs
        var bos = hf.bosTokenID
        if let generation = try readObject(dir.appendingPathComponent("generation_config.json"), required: nil) {
            let r = KeyReader(json: generation, path: dir.appendingPathComponent("generation_config.json").path)
            for id in try r.optionalTokenIDs("eos_token_id") where !stops.contains(id) { stops.append(id) }
            bos = try r.optionalTokenIDs("bos_token_id").first ?? bos
        }
        let tokenizerURL = dir.appendingPathComponent("tokenizer.json")
        var tokenizer: Data? = nil
        if FileManager.default.fileExists(atPath: tokenizerURL.path) {
            // Loaded now, so a component we do not implement is refused (named with its JSON
            // path) before anything is written.
            _ = try BPETokenizer(tokenizerJSON: tokenizerURL.path)
            tokenizer = try Data(contentsOf: tokenizerURL)
        }
        var imported = ModelImport.Imported(config: hf.model, parameters: try ModelImport.ordered(tensors, config: hf.model, path: dir.path),
                                            bos: bos, stopTokenIDs: stops, tokenizerJSON: tokenizer, chatTemplate: try chatTemplate(dir),
                                            source: dir.path)
        if let config = try readObject(dir.appendingPathComponent("tokenizer_config.json"), required: nil) {
            imported.bosToken = tokenText(config["bos_token"])
            imported.eosToken = tokenText(config["eos_token"])
        }
        return imported
    }

    /// A special token as tokenizer_config.json writes it: a string, or `{"content": ...}`.
    static func tokenText(_ value: Any?) -> String? {
        (value as? String) ?? (value as? [String: Any])?["content"] as? String
    }

    /// Throws for a tensor the model does not have (a config with fewer layers than the
    /// weights would otherwise drop layers silently). Buffers transformers saves beside the
    /// parameters (GPT-2's attention masks, rotary tables) and a tied head are allowed.
    static func refuseExtraTensors(_ tensors: NamedTensors, config: ModelConfig, path: String) throws {
        let model = try CheckpointWeights.decoder(config, lora: nil, file: path)
        let known = Set(model.parameterShapes.map(\.name))
        for name in tensors.names where !known.contains(name) {
            let buffer = name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") || name.hasSuffix("rotary_emb.inv_freq")
            let tiedHead = name == "lm_head.weight" && config.tiedEmbeddings
            if !buffer && !tiedHead {
                throw InteropError.invalid(path: path, reason: "the weights hold '\(name)', which a model with this config.json does not have (\(config.layers) layers); the config and the weights disagree")
            }
        }
    }

    /// model.safetensors, or every shard model.safetensors.index.json lists.
    static func weights(_ dir: URL) throws -> NamedTensors {
        let single = dir.appendingPathComponent("model.safetensors")
        if FileManager.default.fileExists(atPath: single.path) { return try SafeTensors.read(contentsOf: single) }
        let indexURL = dir.appendingPathComponent("model.safetensors.index.json")
        guard let index = try readObject(indexURL, required: nil) else {
            throw InteropError.invalid(path: single.path, reason: "missing, and there is no model.safetensors.index.json either; the weights must be safetensors")
        }
        guard let map = index["weight_map"] as? [String: String] else {
            throw InteropError.invalid(path: indexURL.path, reason: "needs a `weight_map` object from tensor names to shard files")
        }
        var out = NamedTensors()
        for shard in Set(map.values).sorted() {
            guard !shard.contains("/"), !shard.hasPrefix(".") else {
                throw InteropError.invalid(path: indexURL.path, reason: "shard \"\(shard)\" is not a file name in this directory")
            }
            let tensors = try SafeTensors.read(contentsOf: dir.appendingPathComponent(shard))
            for e in tensors.entries where map[e.name] == shard { out.append(e.name, e.tensor) }
        }
        if let missing = map.keys.sorted().first(where: { out[$0] == nil }) {
            throw InteropError.invalid(path: indexURL.path, reason: "lists '\(missing)' in \(map[missing] ?? "?"), which does not hold it")
        }
        return out
    }

    /// The chat template: chat_template.jinja (transformers 5), else tokenizer_config.json's
    /// `chat_template` (a string, or a list of named templates of which `default` is used).
    static func chatTemplate(_ dir: URL) throws -> String? {
        let jinja = dir.appendingPathComponent("chat_template.jinja")
        if FileManager.default.fileExists(atPath: jinja.path) {
            do { return try String(contentsOf: jinja, encoding: .utf8) } catch {
                throw InteropError.invalid(path: jinja.path, reason: "cannot read the chat template (\(error.localizedDescription))")
            }
        }
        let configURL = dir.appendingPathComponent("tokenizer_config.json")
        guard let config = try readObject(configURL, required: nil), let value = config["chat_template"], !(value is NSNull) else { return nil }
        if let text = value as? String { return text }
        if let list = value as? [[String: Any]] {
            if let t = list.first(where: { $0["name"] as? String == "default" })?["template"] as? String { return t }
            throw InteropError.unsupported(path: configURL.path, key: "chat_template",
                                           reason: "a list of named templates without one named \"default\"; names: \(list.compactMap { $0["name"] as? String }.joined(separator: ", "))")
        }
        throw InteropError.invalid(path: configURL.path, reason: "`chat_template` must be a string or a list of {name, template}")
    }

    /// The JSON object in `url`; nil when the file is absent and not `required` (the reason given).
    static func readObject(_ url: URL, required: String?) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: url.path) else {
            if let required { throw InteropError.invalid(path: url.path, reason: "missing; \(required)") }
            return nil
        }
        guard let data = try? Data(contentsOf: url), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw InteropError.invalid(path: url.path, reason: "not a JSON object")
        }
        return object
    }
}
