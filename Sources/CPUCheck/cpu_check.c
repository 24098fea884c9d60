// The numeric Swift targets (Autograd, NN, Models) are compiled for x86-64 with AVX2 and
// FMA (`-target-cpu haswell`, Package.swift). On an older CPU their first vector
// instruction would kill the process with SIGILL and no explanation, so this check runs
// before main (a constructor, compiled without those instructions) and stops with a
// message saying how to build a portable binary instead.
#include <stdio.h>
#include <stdlib.h>
#include "cpu_check.h"

int instructkit_cpu_supported(void) {
#if defined(INSTRUCTKIT_NEEDS_AVX2) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 1;
#endif
}

__attribute__((constructor)) static void instructkit_check_cpu(void) {
    if (!instructkit_cpu_supported()) {
        fputs("error: this build of InstructKit uses AVX2 and FMA instructions, which this CPU does not have.\n"
              "Rebuild for any x86-64 CPU with: INSTRUCTKIT_PORTABLE=1 swift build -c release "
              "(slower elementwise kernels; see docs/performance.md).\n", stderr);
        exit(1);
    }
}
