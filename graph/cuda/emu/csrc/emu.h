// CUDA C as C++: the definitions that let g++ compile the kernels of
// ../../kernels for the CPU emulator of the CUDA driver (driver.cc). Each
// thread of a block is a fiber; blocks run one after another, so a
// __shared__ variable is a static one, shared by the fibers of the block
// that is running.
#pragma once

#include <algorithm>
#include <cmath>

struct dim3 {
	unsigned x, y, z;
};

// The running fiber's indices, set by the scheduler before it switches to
// a fiber.
extern dim3 threadIdx, blockIdx, blockDim, gridDim;

// __syncthreads suspends the fiber until every thread of the block has
// reached a __syncthreads.
void __syncthreads();

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __restrict__ __restrict

using std::max;
using std::min;

// __umulhi returns the high 32 bits of the 64-bit product of a and b.
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((unsigned long long)a * b) >> 32); }
