import Datasets
import Foundation
import Models

extension Trainer {
    /// The preference loss and TRL's metrics over the validation pairs (at most `maxBatches`
    /// batches when positive), with the weights as they are. Records no graph. Data parallel:
    /// collective; each rank takes its share of each global batch, as `evaluate` does.
    /// `evalLoss` is the mean pair loss, `evalPerplexity` its exponential (kept for the shape
    /// of the metrics line; it is not a perplexity), `evalTokens` the pairs.
    func evaluatePreference(_ run: PreferenceRun, maxBatches: Int) throws -> EvalMetrics? {
        var val = try DataLoader(data: data, batchSize: options.microBatchSize * group.size, split: .validation)
        var totals = PreferenceTotals()
        var batches = 0
        while let global = val.next() {
            batches += 1
            if maxBatches > 0 && batches > maxBatches { break }
            let batch = group.isDistributed
                ? global.rows(ProcessGroup.shard(rows: global.rowCount, rank: group.rank, size: group.size)) : global
            guard batch.rowCount > 0 else { continue }
            let input = batch.modelInput
            let r = PreferenceObjective.evaluate(model: model, input: input, parameters: parameters,
                                                 reference: try run.reference.lookup(input), options: run.options)
            totals.add(r.totals)
        }
        if group.isDistributed {
            var v = totals.vector
            try group.allreduceSum(&v)
            totals = PreferenceTotals(vector: v)
        }
        guard let means = totals.means else { return nil }
        let loss = totals.loss / Double(totals.pairs)
        var m = EvalMetrics(step: step, evalLoss: loss, evalPerplexity: exp(loss), evalTokens: totals.pairs)
        m.preference = means
        return m
    }
}

extension PreferenceTotals {
    /// Adds another set of totals.
    public mutating func add(_ o: PreferenceTotals) {
        self = PreferenceTotals(vector: zip(vector, o.vector).map { $0 + $1 })
    }
}
