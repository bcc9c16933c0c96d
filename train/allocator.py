"""
glibc's allocator, set up for training on the CPU.

A CPU step makes and frees (batch, heads, T, T) attention tensors of tens of megabytes, dozens of
times. glibc serves every block above 32 MB with a fresh mmap and unmaps it on free, so each new
tensor is faulted in again, page by page. On the 2-core dev VM that ran elementwise ops at ~1 GB/s
and a Countdown step (8k tokens, 1.05M parameters, one thread) took 5.5 s; with freed memory kept in
the heap for reuse it took 1.4-1.7 s, the same arithmetic.
"""
import ctypes

M_TRIM_THRESHOLD = -1  # mallopt's option numbers (malloc.h)
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Big blocks come from the heap and freed ones stay there. False where libc is not glibc."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
