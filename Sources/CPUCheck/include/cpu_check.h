#ifndef INSTRUCTKIT_CPU_CHECK_H
#define INSTRUCTKIT_CPU_CHECK_H

/// 1 when this CPU has every instruction set the numeric targets were compiled for
/// (AVX2 and FMA unless built with INSTRUCTKIT_PORTABLE=1), else 0.
int instructkit_cpu_supported(void);

#endif
