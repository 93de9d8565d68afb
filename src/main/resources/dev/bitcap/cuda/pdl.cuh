// Programmatic dependent launch (Hopper; see ProgrammaticKernels.java): PDL_TRIGGER lets the stream's next kernel
// start before this one ends; PDL_WAIT returns once the previous kernels have finished and their writes are visible.
// Both do nothing in a kernel launched the ordinary way.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define PDL_TRIGGER() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#define PDL_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#else
#define PDL_TRIGGER()
#define PDL_WAIT()
#endif
