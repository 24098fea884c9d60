import Autograd
import Foundation

/// Import of llama2.c "legacy" (version 0) checkpoints (`run.c` / `export.py --version 0`).
///
/// Layout: seven little-endian int32 (`dim, hidden_dim, n_layers, n_heads, n_kv_heads,
/// vocab_size, seq_len`; a negative `vocab_size` means an untied classifier follows), then
/// float32 weights in this order, all matrices row-major `[out, in]`:
///
/// ```
/// token_embedding [V, C]; rms_att [L, C]; wq [L, H*D, C]; wk [L, Hkv*D, C]; wv [L, Hkv*D, C];
/// wo [L, C, H*D]; rms_ffn [L, C]; w1 [L, F, C]; w2 [L, C, F]; w3 [L, F, C]; rms_final [C];
/// freq_cis_real [T, D/2]; freq_cis_imag [T, D/2]; wcls [V, C] only when untied
/// ```
///
/// The result uses Hugging Face Llama names. llama2.c applies RoPE to adjacent pairs
/// (2i, 2i+1) of each head, HF to (i, i + D/2) ("rotate half"); so the rows of `wq` and `wk`
/// are permuted per head, row 2i -> i and row 2i+1 -> i + D/2, exactly the inverse of
/// llama2.c `export.py`'s permutation (and what HF's `convert_llama_weights_to_hf.py`
/// `permute` does). Values are copied bit for bit otherwise.
public enum Llama2c {
    /// The model configuration read from the header.
    public struct Config: Equatable, Codable {
        /// C, the model width.
        public var dim: Int
        /// F, the SwiGLU hidden width.
        public var hiddenDim: Int
        /// L, the number of layers.
        public var layers: Int
        /// H, query heads.
        public var heads: Int
        /// Hkv, key/value heads (grouped-query attention when fewer than `heads`).
        public var kvHeads: Int
        /// V, the vocabulary size.
        public var vocabSize: Int
        /// T, the maximum sequence length.
        public var seqLen: Int
        /// Whether the classifier shares the token embedding (`lm_head` is then absent).
        public var tiedEmbeddings: Bool
        /// D = C / H.
        public var headDim: Int { dim / heads }
    }

    /// An imported checkpoint: HF-named tensors and the configuration.
    public struct Model {
        /// Tensors named as in Hugging Face `LlamaForCausalLM`, in llama2.c file order per layer.
        public var tensors: NamedTensors
        /// The header values.
        public var config: Config
    }

    /// Reads the llama2.c checkpoint at `url` (memory-mapped). Throws `invalidLlama2c` when the
    /// header is implausible or the file size does not match it exactly.
    public static func read(contentsOf url: URL) throws -> Model {
        let file = try MappedFile(path: url.path)
        return try decode(file.bytes, path: url.path)
    }

    /// Decodes llama2.c checkpoint bytes; `path` names the source in errors.
    public static func decode(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Model {
        guard bytes.count >= 28 else { throw CheckpointError.truncated(path: path, expectedBytes: 28, foundBytes: bytes.count) }
        func int32(_ i: Int) -> Int {
            var v: UInt32 = 0
            for b in 0..<4 { v |= UInt32(bytes[4 * i + b]) << (8 * UInt32(b)) }
            return Int(Int32(bitPattern: v))
        }
        let dim = int32(0), hidden = int32(1), layers = int32(2), heads = int32(3)
        let kvHeads = int32(4), rawVocab = int32(5), seqLen = int32(6)
        let vocab = abs(rawVocab)
        let limit = 1 << 20
        for (name, v) in [("dim", dim), ("hidden_dim", hidden), ("n_layers", layers), ("n_heads", heads),
                          ("n_kv_heads", kvHeads), ("vocab_size", vocab), ("seq_len", seqLen)] {
            guard v > 0, v <= limit else {
                throw CheckpointError.invalidLlama2c(path: path, reason: "header \(name) = \(v) is not in 1...\(limit)")
            }
        }
        guard dim % heads == 0, (dim / heads) % 2 == 0 else {
            throw CheckpointError.invalidLlama2c(path: path, reason: "dim \(dim) is not a multiple of n_heads \(heads) with an even head size")
        }
        guard kvHeads <= heads, heads % kvHeads == 0 else {
            throw CheckpointError.invalidLlama2c(path: path, reason: "n_heads \(heads) is not a multiple of n_kv_heads \(kvHeads)")
        }
        let config = Config(dim: dim, hiddenDim: hidden, layers: layers, heads: heads, kvHeads: kvHeads,
                            vocabSize: vocab, seqLen: seqLen, tiedEmbeddings: rawVocab > 0)
        let d = config.headDim
        let kvDim = kvHeads * d
        // The expected size is computed in Double first (exact below 2^53) so that a hostile
        // header cannot overflow the Int arithmetic that follows.
        let (D, C, Kv, F, V, L, T) = (Double(d), Double(dim), Double(kvDim), Double(hidden), Double(vocab), Double(layers), Double(seqLen))
        let perLayerD = 2 * C + 2 * C * C + 2 * C * Kv + 3 * C * F
        let expectedD = 28 + 4 * (V * C + L * perLayerD + C + T * D + (config.tiedEmbeddings ? 0 : V * C))
        guard expectedD == Double(bytes.count) else {
            throw CheckpointError.invalidLlama2c(path: path,
                reason: "the header implies \(Int(min(expectedD, 9e18))) bytes but the file has \(bytes.count)")
        }

        var cursor = 28
        func take(_ shape: [Int]) -> Tensor {
            let n = Tensor.elementCount(shape)
            let storage = TensorStorage(uninitializedCount: n)
            SafeTensors.convertToFloat32(UnsafeRawBufferPointer(rebasing: bytes[cursor..<(cursor + 4 * n)]),
                                         dtype: .F32, into: storage.pointer, count: n)
            cursor += 4 * n
            return Tensor(shape: shape, storage: storage)
        }
        func takeLayers(_ shape: [Int]) -> [Tensor] { (0..<layers).map { _ in take(shape) } }

        let embedding = take([vocab, dim])
        let rmsAtt = takeLayers([dim])
        let wq = takeLayers([heads * d, dim])
        let wk = takeLayers([kvDim, dim])
        let wv = takeLayers([kvDim, dim])
        let wo = takeLayers([dim, heads * d])
        let rmsFfn = takeLayers([dim])
        let w1 = takeLayers([hidden, dim])
        let w2 = takeLayers([dim, hidden])
        let w3 = takeLayers([hidden, dim])
        let rmsFinal = take([dim])
        cursor += 4 * seqLen * d  // freq_cis_real and freq_cis_imag: unused legacy RoPE tables.
        let classifier: Tensor? = config.tiedEmbeddings ? nil : take([vocab, dim])

        var out = NamedTensors(metadata: [
            "source": "llama2.c legacy checkpoint",
            "config": configJSON(config),
        ])
        out.append("model.embed_tokens.weight", embedding)
        for i in 0..<layers {
            let p = "model.layers.\(i)."
            out.append(p + "input_layernorm.weight", rmsAtt[i])
            out.append(p + "self_attn.q_proj.weight", pairsToHalves(wq[i], heads: heads, headDim: d))
            out.append(p + "self_attn.k_proj.weight", pairsToHalves(wk[i], heads: kvHeads, headDim: d))
            out.append(p + "self_attn.v_proj.weight", wv[i])
            out.append(p + "self_attn.o_proj.weight", wo[i])
            out.append(p + "post_attention_layernorm.weight", rmsFfn[i])
            out.append(p + "mlp.gate_proj.weight", w1[i])
            out.append(p + "mlp.up_proj.weight", w3[i])
            out.append(p + "mlp.down_proj.weight", w2[i])
        }
        out.append("model.norm.weight", rmsFinal)
        if let classifier { out.append("lm_head.weight", classifier) }
        return Model(tensors: out, config: config)
    }

    /// Permutes the rows of a projection `[heads * D, C]` from llama2.c's adjacent-pair RoPE
    /// layout to HF's rotate-half layout: within each head, row 2i goes to i and row 2i+1 to
    /// i + D/2. (HF `permute(w).view(n_heads, dim1 // n_heads // 2, 2, dim2).transpose(1, 2)`.)
    public static func pairsToHalves(_ w: Tensor, heads: Int, headDim d: Int) -> Tensor {
        precondition(w.rank == 2 && w.shape[0] == heads * d && d % 2 == 0,
                     "Llama2c.pairsToHalves: shape \(w.shape) is not [\(heads) * \(d), C] with even D")
        let cols = w.shape[1]
        let storage = TensorStorage(uninitializedCount: w.count)
        w.withUnsafeBufferPointer { src in
            guard let s = src.baseAddress else { return }
            for h in 0..<heads {
                for i in 0..<(d / 2) {
                    for (from, to) in [(2 * i, i), (2 * i + 1, i + d / 2)] {
                        (storage.pointer + (h * d + to) * cols).update(from: s + (h * d + from) * cols, count: cols)
                    }
                }
            }
        }
        return Tensor(shape: w.shape, storage: storage)
    }

    /// The equivalent Hugging Face `config.json` (LlamaForCausalLM; BOS 1, EOS 2 as in llama2.c).
    public static func configJSON(_ c: Config) -> String {
        """
        {"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":\(c.dim),\
        "intermediate_size":\(c.hiddenDim),"num_hidden_layers":\(c.layers),"num_attention_heads":\(c.heads),\
        "num_key_value_heads":\(c.kvHeads),"vocab_size":\(c.vocabSize),"max_position_embeddings":\(c.seqLen),\
        "rms_norm_eps":1e-05,"rope_theta":10000.0,"tie_word_embeddings":\(c.tiedEmbeddings),\
        "hidden_act":"silu","bos_token_id":1,"eos_token_id":2}
        """
    }
}
