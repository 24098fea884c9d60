/// Errors from evaluating a model. Every case names the file (and line) involved and what to do.
public enum EvaluationError: Error, Equatable, CustomStringConvertible {
    /// A prompt leaves no room to answer in the model's context.
    case promptTooLong(path: String, tokens: Int, context: Int)

    public var description: String {
        switch self {
        case let .promptTooLong(path, tokens, context):
            return "\(path): the prompt has \(tokens) tokens but the model's context is \(context); no room to answer. Shorten it or drop the record."
        }
    }
}
