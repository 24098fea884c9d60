import Autograd
import Datasets
import Models
import NN
import Tokenizers

/// Accuracy on verifiable instructions (`instruct data synth`): each record's prompt is
/// rendered exactly as in training (`ExampleEncoder.promptTokens`), the model answers
/// greedily with the key/value cache, and the record's own checker scores the answer.
public enum SynthEvaluation {
    /// Scores `records`. Prompts go through in batches of `batchSize` (sorted by length so a
    /// batch wastes little padding; the score does not depend on the order).
    public static func evaluate(model: DecoderModel, parameters: Parameters, encoder: ExampleEncoder,
                                records: [SynthRecord], maxNewTokens: Int, batchSize: Int = 64) throws -> (score: SynthScore, responses: [String]) {
        let tokenizer = encoder.tokenizer
        let prompts = records.map { r in
            encoder.promptTokens(.instruction(instruction: r.instruction, input: r.input, response: r.output))
        }
        let order = prompts.indices.sorted { (prompts[$0].count, $0) < (prompts[$1].count, $1) }
        var responses = [String](repeating: "", count: records.count)
        let eos = tokenizer.eosTokenID.map { Set([$0]) } ?? []
        let options = GenerationOptions(sampling: .greedy, maxNewTokens: maxNewTokens, eosTokenIDs: eos,
                                        padTokenID: tokenizer.eosTokenID ?? 0)
        var start = 0
        while start < order.count {
            let idx = Array(order[start..<Swift.min(start + batchSize, order.count)])
            let out = try Generator.generate(model: model, parameters: parameters, prompts: idx.map { prompts[$0] },
                                             options: options)
            for (i, tokens) in zip(idx, out) { responses[i] = tokenizer.decode(tokens) }
            start += batchSize
        }
        return (try SynthScore(records: records, responses: responses), responses)
    }
}
