import Autograd
import Datasets
import Inference
import Interop
import Models
import NN
import Synth
import Tokenizers

/// Accuracy on verifiable instructions (`instruct data synth`): each record's prompt is
/// rendered exactly as in training (`ExampleEncoder.promptTokens`), the model answers
/// greedily with the key/value cache, stopping where the model card says, and the record's
/// own checker scores the answer.
public enum SynthEvaluation {
    /// Scores `records`. Prompts go through in batches of `batchSize` (sorted by length so a
    /// batch wastes little padding; the score does not depend on the order).
    public static func evaluate(model: DecoderModel, parameters: Parameters, encoder: ExampleEncoder, card: ModelCard,
                                records: [SynthRecord], maxNewTokens: Int,
                                batchSize: Int = 64) throws -> (score: SynthScore, responses: [String]) {
        let prompts = try records.map { r in
            try encoder.promptTokens(.instruction(instruction: r.instruction, input: r.input, response: r.output))
        }
        var rng = RNG(seed: 0)
        let options = GenerationOptions(card: card, tokenizer: encoder.tokenizer, maxNewTokens: maxNewTokens)
        let answers = try Generator.answers(model: model, parameters: parameters, prompts: prompts, options: options,
                                            batchSize: batchSize, rng: &rng)
        let responses = answers.map(\.text)
        return (try SynthScore(records: records, responses: responses, formats: IFEvalFormats()), responses)
    }
}
