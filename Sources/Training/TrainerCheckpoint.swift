import Autograd
import Checkpoints
import Datasets
import Foundation
import NN

/// What `trainer_state.json` holds: the trainer's counters and positions at a step.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Format version of this file.
    public var version: Int = 1
    public var step: Int
    public var totalSteps: Int
    public var dataCursor: DataCursor
    public var dropoutRNG: RNG
    public var optimizerStep: Int
    public var tokensSeen: Int
    public var trainedTokensSeen: Int
    public var elapsedSeconds: Double
    public var schedule: LRSchedule
}

extension Trainer {
    /// The trainer's state as saved in a checkpoint.
    public var state: TrainerState {
        TrainerState(step: step, totalSteps: totalSteps, dataCursor: loader.cursor, dropoutRNG: dropoutRNG,
                     optimizerStep: optimizer.step, tokensSeen: tokensSeen, trainedTokensSeen: trainedTokensSeen,
                     elapsedSeconds: elapsedSeconds, schedule: schedule)
    }

    /// Writes `step-NNNNNNN/` in `runDirectory` (weights, AdamW moments, trainer state,
    /// plus `extraFiles` such as the recipe and tokenizer) atomically, and points `latest`
    /// at it. Returns the checkpoint directory.
    public func saveCheckpoint(in runDirectory: URL, extraFiles: [String: Data], keepLast: Int? = nil) throws -> URL {
        var files: [String: CheckpointFile] = [:]
        files["model.safetensors"] = .tensors(NamedTensors(parameters.pairs.map { ($0.name, $0.tensor) },
                                                           metadata: ["format": "pt", "producer": "instructkit"]))
        let moments = optimizer.m.pairs.map { ("m." + $0.name, $0.tensor) } + optimizer.v.pairs.map { ("v." + $0.name, $0.tensor) }
        files["optimizer.safetensors"] = .tensors(NamedTensors(moments, metadata: ["format": "pt", "step": "\(optimizer.step)"]))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        files["trainer_state.json"] = .bytes(try e.encode(state))
        for (name, data) in extraFiles { files[name] = .bytes(data) }
        return try CheckpointWriter.save(step: step, in: runDirectory, files: files, keepLast: keepLast)
    }
}
