import Autograd
import Checkpoints
import Datasets
import Foundation
import Models
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
    /// Ranks of the data-parallel run that saved it; nil for one process.
    public var ranks: Int? = nil
    /// Every rank's dropout generator, by rank (data-parallel runs only; `dropoutRNG` is rank 0's).
    public var rankDropoutRNGs: [RNG]? = nil
    /// The best validation loss so far and the evaluations since (`keepBest`, early
    /// stopping); nil in checkpoints written before it was recorded, which start a new count.
    public var validation: ValidationProgress? = nil
}

extension Trainer {
    /// The trainer's state as saved in a checkpoint.
    public var state: TrainerState {
        TrainerState(step: step, totalSteps: totalSteps, dataCursor: loader.cursor, dropoutRNG: dropoutRNG,
                     optimizerStep: optimizer.step, tokensSeen: tokensSeen, trainedTokensSeen: trainedTokensSeen,
                     elapsedSeconds: elapsedSeconds, schedule: schedule, ranks: group.isDistributed ? group.size : nil,
                     validation: validation)
    }

    /// Writes `step-NNNNNNN/` in `runDirectory` (weights, AdamW moments, trainer state,
    /// plus `extraFiles` such as the recipe, the model card and the tokenizer) atomically, and
    /// points `latest` at it. Returns the checkpoint directory. With LoRA the weights are only
    /// the adapters (`LoRAFiles.adapters`) and their settings (`LoRAFiles.config`); the caller
    /// adds the base's identity (`LoRAFiles.base`).
    ///
    /// Data parallel: collective (every rank calls it at the same step). The ranks' dropout
    /// generators are gathered into the state, then rank 0 alone writes; the other ranks
    /// return the directory rank 0 writes without waiting for it.
    public func saveCheckpoint(in runDirectory: URL, extraFiles: [String: Data], keepLast: Int? = nil) throws -> URL {
        var state = self.state
        if group.isDistributed {
            let spare = dropoutRNG.spareNormal
            let words = dropoutRNG.state + [spare == nil ? 0 : 1, spare?.bitPattern ?? 0]
            state.rankDropoutRNGs = try group.allgather(words).map {
                RNG(state: Array($0[0..<4]), spareNormal: $0[4] == 0 ? nil : Double(bitPattern: $0[5]))
            }
            guard group.isMain else {
                return runDirectory.appendingPathComponent(CheckpointWriter.directoryName(step: step))
            }
        }
        var files: [String: CheckpointFile] = [:]
        let metadata = ["format": "pt", "producer": "instructkit"]
        if let trainableNames, let lora = model.lora {
            let adapters = parameters.pairs.filter { trainableNames.contains($0.name) }.map { ($0.name, $0.tensor) }
            files[LoRAFiles.adapters] = .tensors(NamedTensors(adapters, metadata: metadata))
            files[LoRAFiles.config] = .bytes(try JSONFile.encode(lora))
        } else {
            files["model.safetensors"] = .tensors(NamedTensors(parameters.pairs.map { ($0.name, $0.tensor) }, metadata: metadata))
        }
        let moments = optimizer.m.pairs.map { ("m." + $0.name, $0.tensor) } + optimizer.v.pairs.map { ("v." + $0.name, $0.tensor) }
        files["optimizer.safetensors"] = .tensors(NamedTensors(moments, metadata: ["format": "pt", "step": "\(optimizer.step)"]))
        files[TrainerState.fileName] = .bytes(try JSONFile.encode(state))
        for (name, data) in extraFiles { files[name] = .bytes(data) }
        return try CheckpointWriter.save(step: step, in: runDirectory, files: files, keepLast: keepLast)
    }
}

extension TrainerState {
    /// The file in a checkpoint that holds the trainer state.
    public static let fileName = "trainer_state.json"

    /// `trainer_state.json` of a checkpoint, checked (`check`). A checkpoint error (missing or
    /// altered file) passes through; undecodable JSON names the file.
    public static func read(from checkpoint: Checkpoint) throws -> TrainerState {
        let state = try JSONFile.decode(TrainerState.self, fileName, in: checkpoint, hint: "every training checkpoint has it")
        try state.check(path: checkpoint.directory.appendingPathComponent(fileName).path, manifestStep: checkpoint.step)
        return state
    }

    /// Throws `TrainingError.invalidState` naming `path` and the value when the state holds
    /// what no run saves: a negative step or counter, more optimizer steps than steps, a step
    /// other than the manifest's, a non-finite elapsed time, a cursor before the start.
    /// (Whether the step fits this run's length is checked by the trainer that resumes it.)
    public func check(path: String, manifestStep: Int?) throws {
        func bad(_ reason: String) -> TrainingError { .invalidState(path: path, reason: reason) }
        guard step >= 0 else { throw bad("`step` is \(step); a saved step is 0 or more") }
        if let manifestStep, manifestStep != step {
            throw bad("`step` is \(step) but manifest.json says the checkpoint is step \(manifestStep)")
        }
        guard totalSteps >= 0 else { throw bad("`totalSteps` is \(totalSteps); it is 0 or more") }
        guard (0...step).contains(optimizerStep) else {
            throw bad("`optimizerStep` is \(optimizerStep); it is between 0 and the step, \(step)")
        }
        guard tokensSeen >= 0, trainedTokensSeen >= 0 else {
            throw bad("the token counters (\(tokensSeen) seen, \(trainedTokensSeen) trained) are negative")
        }
        guard elapsedSeconds.isFinite, elapsedSeconds >= 0 else { throw bad("`elapsedSeconds` is \(elapsedSeconds)") }
        guard dataCursor.epoch >= 0, dataCursor.index >= 0, dataCursor.batches >= 0 else {
            throw bad("the data cursor (epoch \(dataCursor.epoch), index \(dataCursor.index)) is before the start of the data")
        }
        if let ranks, ranks < 1 { throw bad("`ranks` is \(ranks); a run has at least one") }
        if let problem = validation?.problem(atStep: step) { throw bad(problem) }
    }
}

extension Trainer {
    /// A trainer that continues the run saved in `checkpoint` (opened, and so verified,
    /// by `CheckpointReader.open`): its weights, AdamW moments and `trainer_state.json`.
    /// Tensors are put in the model's parameter order (then, with LoRA, the model's adapter
    /// order), so every sum over parameters (the gradient norm) runs in the same order as in
    /// the uninterrupted run: losses continue bit for bit. Throws `resumeMismatch` when
    /// tensors are missing or have other shapes.
    ///
    /// A LoRA checkpoint holds only the adapters: `base` gives the frozen base weights (read
    /// and checked by `LoRAFiles.readBase`), and the adapters are checked against `model`.
    public static func resume(from checkpoint: Checkpoint, model: DecoderModel, data: PreparedData,
                              options: TrainingOptions, base: Parameters? = nil,
                              group: ProcessGroup = .single) throws -> Trainer {
        let lora = model.lora != nil
        if lora && base == nil {
            throw TrainingError.resumeMismatch(["the run trains LoRA adapters but no base weights were given"])
        }
        let trainedFile = lora ? LoRAFiles.adapters : "model.safetensors"
        guard checkpoint.contains(trainedFile) else {
            throw TrainingError.resumeMismatch([lora ? "\(checkpoint.directory.path) has no \(trainedFile): it was not trained with finetune.method lora"
                                                     : "\(checkpoint.directory.path) has no \(trainedFile)"])
        }
        let trained = try checkpoint.tensors(trainedFile)
        let moments = try checkpoint.tensors("optimizer.safetensors")
        let state = try TrainerState.read(from: checkpoint)
        var problems: [String] = []
        var params: [(String, Tensor)] = [], m: [(String, Tensor)] = [], v: [(String, Tensor)] = []
        func take(_ name: String, _ shape: [Int], from tensors: NamedTensors, file: String) {
            guard let t = tensors[name] else { problems.append("\(file) has no tensor '\(name)'"); return }
            if t.shape != shape { problems.append("'\(name)' is \(t.shape) in the checkpoint, the model wants \(shape)") }
            params.append((name, t))
            if let mt = moments["m." + name], let vt = moments["v." + name] {
                if mt.shape != shape || vt.shape != shape { problems.append("moments of '\(name)' have shape \(mt.shape)/\(vt.shape), want \(shape)") }
                m.append((name, mt))
                v.append((name, vt))
            }
        }
        if let base {
            for (name, _) in model.parameterShapes {
                guard let t = base.tensor(named: name) else { problems.append("the base has no tensor '\(name)'"); continue }
                params.append((name, t))
            }
            for (name, shape) in model.adapterShapes { take(name, shape, from: trained, file: trainedFile) }
            if trained.count != model.adapterShapes.count {
                problems.append("\(trainedFile) has \(trained.count) tensors, the recipe's LoRA targets make \(model.adapterShapes.count)")
            }
        } else {
            for (name, shape) in model.parameterShapes { take(name, shape, from: trained, file: trainedFile) }
            if trained.count != params.count { problems.append("\(trainedFile) has \(trained.count) tensors, the model has \(params.count)") }
        }
        if !problems.isEmpty { throw TrainingError.resumeMismatch(problems) }
        return try Trainer(model: model, parameters: Parameters(params), data: data, options: options, state: state,
                           optimizerMoments: (Parameters(m), Parameters(v)), group: group)
    }
}
