import Autograd
import Foundation

/// Makes sure OpenBLAS runs its fast kernels: when it fell back to the generic one on a CPU
/// it did not recognise, re-executes this process with `OPENBLAS_CORETYPE` set (see
/// `BLAS.recommendedCoreType`). Does nothing when the variable is already set, when
/// `INSTRUCTKIT_NO_BLAS_REEXEC` is set, or off Linux.
enum BLASCore {
    static func reexecIfGeneric() {
        #if os(Linux)
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] != nil || env["INSTRUCTKIT_NO_BLAS_REEXEC"] != nil { return }
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        guard let core = BLAS.recommendedCoreType(current: BLAS.coreName, cpuFlags: flags) else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        let args = CommandLine.arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        cArgs.append(nil)
        execv("/proc/self/exe", &cArgs)
        // execv returns only on failure: carry on with the generic kernel.
        for p in cArgs { free(p) }
        #endif
    }
}
