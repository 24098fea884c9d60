// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). On macOS, Accelerate
// provides the same cblas_* symbols.
#ifndef INSTRUCTKIT_CBLAS_SHIM_H
#define INSTRUCTKIT_CBLAS_SHIM_H
#if __APPLE__
#include <Accelerate/Accelerate.h>
#else
#include <cblas.h>
#endif
#endif
