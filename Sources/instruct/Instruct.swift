import ArgumentParser
import Foundation
import Training

/// The `instruct` command: fine-tune, inspect data, generate, evaluate, export, benchmark.
/// This target only parses arguments and prints; the work happens in the libraries.
@main
struct Instruct: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Instruction-tune small language models on a CPU.",
        discussion: """
            Examples:
              instruct data synth --out datasets/synth --seed 1   # checkable data
              instruct data inspect recipes/quickstart.yaml    # what is trained on
              instruct train recipes/quickstart.yaml           # fine-tune (recipes/)
              instruct train recipes/quickstart.yaml training.lr=1e-3 \\
                  training.max_steps=300
              instruct checkpoint inspect checkpoints/quickstart/latest
              instruct generate checkpoints/quickstart --prompt "Sort these numbers: 5 2 9"
              instruct chat checkpoints/quickstart
              instruct eval checkpoints/quickstart --data datasets/synth/heldout.jsonl
              instruct tokenizer encode --tokenizer tokenizer.json < lines.txt
              instruct bench ops                               # kernels vs BLAS

            Each command has its own examples: instruct help COMMAND.
            Shell completion: instruct --generate-completion-script bash|zsh|fish
            (where to put it: docs/cli.md).
            """,
        version: "instruct \(InstructKitVersion.current)",
        subcommands: [
            TrainCommand.self, TokenizerCommand.self, BenchCommand.self,
            DataCommand.self, CheckpointCommand.self, ExportCommand.self, ImportCommand.self,
            GenerateCommand.self, ChatCommand.self, EvalCommand.self,
        ])

    /// Entry point: first make sure BLAS uses this CPU's fast kernels, then parse.
    static func main() {
        BLASCore.reexecIfGeneric()
        #if os(Linux)
        // Keep freed tensor buffers in the heap for reuse instead of returning each one to
        // the kernel: every training step frees and reallocates the same sizes, and fresh
        // pages from the kernel cost a page fault per 4 KiB on first touch.
        // INSTRUCTKIT_DEFAULT_MALLOC=1 keeps glibc's defaults (for memory measurements).
        if ProcessInfo.processInfo.environment["INSTRUCTKIT_DEFAULT_MALLOC"] == nil {
            _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 30)
            _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, 1 << 30)
        }
        #endif
        // A file-size limit (`ulimit -f`) kills a process that writes past it with SIGXFSZ, in
        // the middle of a save and without a word. Ignored, the write fails with EFBIG instead
        // and takes the path of a full disk: an error naming the file, the temporary save
        // removed, earlier checkpoints and `latest` untouched.
        signal(SIGXFSZ, SIG_IGN)
        // Line-buffer standard output so progress shows up in logs and pipes as it happens.
        setvbuf(stdout, nil, _IOLBF, 0)
        Self.main(nil)
    }
}

#if os(Linux)
/// glibc's `mallopt` (malloc.h), which Swift's Glibc module does not export.
@_silgen_name("mallopt")
func glibcMallopt(_ param: Int32, _ value: Int32) -> Int32
#endif
