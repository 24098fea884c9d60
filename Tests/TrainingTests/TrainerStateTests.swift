import Autograd
import Datasets
import NN
import XCTest
@testable import Training

/// `trainer_state.json` values no run saves are refused when read, naming the file and value.
final class TrainerStateTests: XCTestCase {
    func state(step: Int = 4) -> TrainerState {
        TrainerState(step: step, totalSteps: 8, dataCursor: DataCursor(epoch: 0, index: 16, batches: 4, dataFingerprint: "f"),
                     dropoutRNG: RNG(seed: 1), optimizerStep: step, tokensSeen: 100, trainedTokensSeen: 40, elapsedSeconds: 1.5,
                     schedule: LRSchedule(kind: .cosine, lr: 1e-3, totalSteps: 8))
    }

    func expectInvalid(_ s: TrainerState, manifestStep: Int? = 4, _ mention: String, line: UInt = #line) {
        XCTAssertThrowsError(try s.check(path: "ck/trainer_state.json", manifestStep: manifestStep), line: line) { error in
            guard case let .invalidState(path, reason)? = error as? TrainingError else { return XCTFail("\(error)", line: line) }
            XCTAssertEqual(path, "ck/trainer_state.json", line: line)
            XCTAssertTrue(reason.contains(mention), reason, line: line)
        }
    }

    func test_check_savedStates_pass() throws {
        XCTAssertNoThrow(try state().check(path: "x", manifestStep: 4))
        XCTAssertNoThrow(try state(step: 0).check(path: "x", manifestStep: nil))
    }

    func test_check_validationProgress_laterThanTheStepOrNonFinite_isRefusedNamingIt() throws {
        var s = state()
        var p = ValidationProgress()
        p.record(loss: 1, step: 4, minDelta: 0)
        s.validation = p
        XCTAssertNoThrow(try s.check(path: "x", manifestStep: 4))
        let back = try JSONDecoder().decode(TrainerState.self, from: try JSONEncoder().encode(s))
        XCTAssertEqual(back.validation, p)
        p.bestStep = 9
        s.validation = p
        expectInvalid(s, "validation.bestStep")
        p = ValidationProgress()
        p.record(loss: .infinity, step: 2, minDelta: 0)
        s.validation = p
        expectInvalid(s, "validation.bestLoss")
        s.validation = nil
        XCTAssertNoThrow(try s.check(path: "x", manifestStep: 4), "a state saved before validation was recorded")
    }

    func test_check_impossibleValues_areRefusedNamingThem() {
        expectInvalid(state(step: -3), manifestStep: nil, "`step` is -3")
        expectInvalid(state(step: 1 << 40), "manifest.json says the checkpoint is step 4")
        var s = state()
        s.optimizerStep = 5
        expectInvalid(s, "`optimizerStep` is 5")
        s = state()
        s.tokensSeen = -1
        expectInvalid(s, "token counters")
        s = state()
        s.elapsedSeconds = .nan
        expectInvalid(s, "elapsedSeconds")
        s = state()
        s.dataCursor.index = -2
        expectInvalid(s, "data cursor")
        s = state()
        s.ranks = 0
        expectInvalid(s, "`ranks` is 0")
    }
}
