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

    /// Encodes `text`. With `allowSpecial`, special and added tokens that occur in the
    /// text are matched whole and never split; without it they are encoded as ordinary text.
    func encode(_ text: String, allowSpecial: Bool) -> [Int32]

    /// Decodes ids back to text. Decoding the encoding of any valid UTF-8 string gives it back.
    func decode(_ ids: [Int32]) -> String

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
