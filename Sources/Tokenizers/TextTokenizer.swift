/// A tokenizer as the rest of InstructKit sees it: text in, token ids out.
///
/// `Datasets` renders prompt templates segment by segment through this protocol,
/// so it never needs to know which tokenizer family is behind it. Template text
/// (which may contain special tokens such as `<|im_start|>`) is encoded with
/// `allowSpecial: true`; user content is encoded with `allowSpecial: false`, so a
/// record that happens to contain `<|endoftext|>` cannot inject a control token.
public protocol TextTokenizer: Sendable {
    /// Number of token ids, special and added tokens included. Ids are `0..<vocabularySize`.
    var vocabularySize: Int { get }

    /// Encodes `text`. With `allowSpecial`, special and added tokens that occur in the text are
    /// matched whole and never split; without it special tokens are encoded as ordinary text
    /// (added tokens that are not special are still matched, as HF does with `encode_special_tokens`).
    func encode(_ text: String, allowSpecial: Bool) -> [Int32]

    /// Decodes ids back to text, special tokens written as their text (HF
    /// `skip_special_tokens=False`). Decoding the encoding of any valid UTF-8 string gives it
    /// back, except where the tokenizer itself changes text (a normalizer, stripped whitespace).
    func decode(_ ids: [Int32]) -> String

    /// Decodes ids back to text; with `skipSpecialTokens`, special tokens are left out (HF
    /// `skip_special_tokens=True`), so generated control tokens never show up as text.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String

    /// True when `id` is a special (control) token: BOS, EOS, `<|im_start|>`, ...
    func isSpecialToken(_ id: Int32) -> Bool

    /// The added tokens (special or not) with their ids, in the order the tokenizer lists them.
    var addedTokens: [AddedToken] { get }

    /// Whether the model's own tokenizer would put BOS in front of an encoded text (HF's
    /// post-processor, GGUF `add_bos_token`). `encode` never adds it; callers decide.
    var addsBOS: Bool { get }

    /// The id of a special or added token given by its text (`"<|endoftext|>"`), if present.
    func specialTokenID(_ token: String) -> Int32?

    /// The beginning-of-sequence id, or nil when the vocabulary has none (GPT-2 has none).
    var bosTokenID: Int32? { get }

    /// The end-of-sequence id, or nil when the vocabulary has none.
    var eosTokenID: Int32? { get }

    /// Bytes that change whenever the mapping from text to ids would change
    /// (for example the serialized vocabulary and merges). Hashed into data-cache keys.
    func fingerprintBytes() -> [UInt8]
}

extension TextTokenizer {
    /// Decodes the ids that are not special tokens.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        decode(skipSpecialTokens ? ids.filter { !isSpecialToken($0) } : ids)
    }

    /// No token is special unless the tokenizer says so.
    public func isSpecialToken(_ id: Int32) -> Bool { false }

    /// No added tokens unless the tokenizer lists them.
    public var addedTokens: [AddedToken] { [] }

    /// No BOS is added unless the tokenizer says so.
    public var addsBOS: Bool { false }
}
