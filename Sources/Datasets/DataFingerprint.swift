import Hashing
import Tokenizers

/// SHA-256 keys for the data cache.
public enum DataFingerprint {
    /// Bumped whenever rendering, masking or packing changes, so old caches are rebuilt.
    public static let pipelineVersion = "instructkit-datasets-2"

    /// The fingerprint of one dataset: its file's SHA-256 and size, the tokenizer's
    /// `fingerprintBytes()` and special ids, the resolved template and every option that
    /// changes its rows.
    public static func make(
        dataDigest: [UInt8], dataSize: Int, spec: DatasetSpec, config: DataConfig, tokenizer: any TextTokenizer
    ) -> [UInt8] {
        var h = SHA256()
        func field(_ bytes: [UInt8]) {
            var n = UInt64(bytes.count).littleEndian
            withUnsafeBytes(of: &n) { h.update($0) }
            h.update(bytes)
        }
        func field(_ s: String) { field(Array(s.utf8)) }
        field(pipelineVersion)
        field(dataDigest)
        field("bytes=\(dataSize)")
        field(tokenizer.fingerprintBytes())
        field("bos=\(tokenizer.bosTokenID.map(String.init) ?? "none") eos=\(tokenizer.eosTokenID.map(String.init) ?? "none")")
        field(spec.format.rawValue)
        field(spec.columns.renames.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}"))
        field((spec.template ?? config.defaultTemplate)?.canonicalDescription ?? "default")
        field(spec.systemPrompt.map { "system:" + $0 } ?? "no-system")
        field("\(spec.validationFraction)")
        field("seq_len=\(config.seqLen) packing=\(config.packing.rawValue) length=\(config.lengthPolicy.rawValue)")
        field("train_on_input=\(config.trainOnInput) scope=\(config.chatScope.rawValue) bad=\(config.onBadRecord.rawValue) seed=\(config.seed)")
        // Only preference data adds a field, so supervised caches keep their keys.
        if let preference = config.preference { field("preference prompt_overflow=\(preference.promptOverflow.rawValue)") }
        return h.finalize()
    }

    /// SHA-256 of `bytes`.
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { SHA256.hash(bytes) }

    /// Lower-case hex.
    public static func hex(_ bytes: [UInt8]) -> String { SHA256.hex(bytes) }
}
