import Synth

/// IFEval's checkers as the format checks of the synthetic `bullets` and `quoted` families, so
/// those families are scored exactly as IFEval scores the same instructions.
public struct IFEvalFormats: SynthFormats {
    public init() {}

    public func follows(_ instruction: String, kwargs: [String: Any], response: String) -> Bool {
        // The synth families name only instructions IFEval has, with their kwargs: a failure to
        // build the checker is a programmer error.
        guard let checker = try? IFEvalChecker.make(id: instruction, kwargs: kwargs, prompt: "") else {
            preconditionFailure("IFEvalFormats: IFEval has no instruction \(instruction) with \(kwargs)")
        }
        return checker(response)
    }
}
