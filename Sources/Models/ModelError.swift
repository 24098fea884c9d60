/// Errors from matching weights to a model config. Cases name the tensor.
public enum ModelError: Error, Equatable, CustomStringConvertible {
    case invalidConfig([String])
    case missingTensor(name: String)
    case wrongShape(name: String, expected: [Int], found: [Int])
    case unexpectedTensor(name: String)
    /// A feature this model or its weights cannot have (`feature`), and why.
    case notSupported(feature: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidConfig(problems):
            return "invalid model config: " + problems.joined(separator: "; ") + ". Fix the model section of the recipe."
        case let .missingTensor(name):
            return "weights have no tensor '\(name)' that the model config needs; the checkpoint does not match the model section."
        case let .wrongShape(name, expected, found):
            return "tensor '\(name)' has shape \(found) but the model config needs \(expected); the checkpoint does not match the model section."
        case let .unexpectedTensor(name):
            return "weights have a tensor '\(name)' that this model does not use; check the model family and layer count."
        case let .notSupported(feature, reason):
            return "\(feature) not supported: \(reason)."
        }
    }
}
