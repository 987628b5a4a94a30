// A CPU emulation of the part of the CUDA driver API that package cuda
// binds, with the kernels of ../../kernels compiled in (emu.h), for testing
// the Go side and the kernels on machines without a GPU. Build it with
// package emu, which compiles this file with the kernel sources and a
// registry of kernel names (registry.inc) into a shared library that
// cuda.SetDriverLibrary loads in place of libcuda.so.1.
//
// Launches run synchronously, serialised by one lock; each thread of a
// block is a ucontext fiber, switched at __syncthreads, so a block's
// threads interleave deterministically. Device memory is host memory with
// guard bands filled with 0xFF bytes (a NaN as float and as double), also
// the content of fresh allocations: reading past a buffer or reading
// memory never written gives NaNs, and writing past a buffer is found
// after the launch (CUDA_ERROR_ILLEGAL_ADDRESS).
#include "emu.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <ucontext.h>

dim3 threadIdx, blockIdx, blockDim, gridDim;

#include "kernels.cu"

namespace {

typedef int CUresult;
enum : CUresult {
	CUDA_SUCCESS = 0,
	CUDA_ERROR_INVALID_VALUE = 1,
	CUDA_ERROR_OUT_OF_MEMORY = 2,
	CUDA_ERROR_INVALID_DEVICE = 101,
	CUDA_ERROR_INVALID_IMAGE = 200,
	CUDA_ERROR_INVALID_CONTEXT = 201,
	CUDA_ERROR_INVALID_HANDLE = 400,
	CUDA_ERROR_NOT_FOUND = 500,
	CUDA_ERROR_ILLEGAL_ADDRESS = 700,
	CUDA_ERROR_LAUNCH_FAILED = 719,
};

// Emulated device memory: 1 GiB.
const size_t kMemory = size_t(1) << 30;
// Bytes of guard band on each side of an allocation.
const size_t kGuard = 4096;
const unsigned char kPoison = 0xFF;

std::mutex mu;
size_t used;
// Allocations by their device address (the first byte after the lower
// guard), with their size.
std::map<uintptr_t, size_t> allocs;
int context_token, module_token, stream_token;

// inside reports whether [p, p+n) lies inside one allocation.
bool inside(uintptr_t p, size_t n) {
	auto it = allocs.upper_bound(p);
	if (it == allocs.begin()) return false;
	--it;
	return p >= it->first && p + n <= it->first + it->second && p + n >= p;
}

// guards_intact checks the guard bands of every allocation, reporting
// each damaged one on stderr and repairing it.
bool guards_intact(const char *kernel) {
	bool ok = true;
	for (auto &a : allocs) {
		unsigned char *lo = (unsigned char *)a.first - kGuard;
		unsigned char *hi = (unsigned char *)a.first + a.second;
		for (size_t i = 0; i < kGuard; i++) {
			if (lo[i] != kPoison || hi[i] != kPoison) {
				fprintf(stderr, "cuda emulator: %s wrote outside the %zu-byte buffer at %#lx (%s guard, byte %zu)\n",
					kernel, a.second, (unsigned long)a.first, lo[i] != kPoison ? "lower" : "upper", i);
				memset(lo, kPoison, kGuard);
				memset(hi, kPoison, kGuard);
				ok = false;
				break;
			}
		}
	}
	return ok;
}

// Kernels: a launcher unpacks kernelParams into the kernel's arguments.
typedef std::function<void(void **)> Launcher;

template <class... A, size_t... I>
void invoke(void (*f)(A...), void **p, std::index_sequence<I...>) {
	f(*static_cast<typename std::remove_reference<A>::type *>(p[I])...);
}

template <class... A>
Launcher launcher(void (*f)(A...)) {
	return [f](void **p) { invoke(f, p, std::index_sequence_for<A...>{}); };
}

struct Kernel {
	const char *name;
	Launcher run;
};

#define REG(name) {#name, launcher(&name)},
Kernel registry[] = {
#include "registry.inc"
};

// Fibers.
enum State { kReady, kAtBarrier, kDone };
struct Fiber {
	ucontext_t ctx;
	std::vector<char> stack;
	State state;
	dim3 tid;
};
const size_t kStack = 128 << 10;
std::vector<Fiber> fibers;
ucontext_t scheduler;
Fiber *current;
const Kernel *running;
void **running_params;

void fiber_main() {
	running->run(running_params);
	current->state = kDone;
}

// run_block runs every thread of block blockIdx to completion. It returns
// false if the threads disagree about __syncthreads (some finished while
// others wait at one).
bool run_block(int nthreads) {
	for (int i = 0; i < nthreads; i++) {
		Fiber &f = fibers[i];
		f.state = kReady;
		getcontext(&f.ctx);
		f.ctx.uc_stack.ss_sp = f.stack.data();
		f.ctx.uc_stack.ss_size = f.stack.size();
		f.ctx.uc_link = &scheduler;
		makecontext(&f.ctx, fiber_main, 0);
	}
	for (;;) {
		int waiting = 0, done = 0;
		for (int i = 0; i < nthreads; i++) {
			Fiber &f = fibers[i];
			if (f.state == kReady) {
				current = &f;
				threadIdx = f.tid;
				swapcontext(&scheduler, &f.ctx);
			}
			if (f.state == kAtBarrier) waiting++;
			if (f.state == kDone) done++;
		}
		if (done == nthreads) return true;
		if (done > 0) return false;
		for (int i = 0; i < nthreads; i++) fibers[i].state = kReady;
	}
}

} // namespace

void __syncthreads() {
	current->state = kAtBarrier;
	swapcontext(&current->ctx, &scheduler);
}

extern "C" {

typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

CUresult cuInit(unsigned) { return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int *v) {
	*v = 11080;
	return CUDA_SUCCESS;
}
CUresult cuDeviceGetCount(int *n) {
	*n = 1;
	return CUDA_SUCCESS;
}
CUresult cuDeviceGet(CUdevice *d, int ordinal) {
	if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
	*d = 0;
	return CUDA_SUCCESS;
}
CUresult cuDeviceGetName(char *name, int len, CUdevice) {
	snprintf(name, len, "CUDA emulator (CPU)");
	return CUDA_SUCCESS;
}
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice) {
	*bytes = kMemory;
	return CUDA_SUCCESS;
}
CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice) {
	switch (attr) {
	case 16: *v = 1; break;  // multiprocessors
	case 75: *v = 9; break;  // compute capability major
	case 76: *v = 0; break;  // minor
	default: return CUDA_ERROR_INVALID_VALUE;
	}
	return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, CUdevice) {
	*ctx = &context_token;
	return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) { return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(void *ctx) { return ctx == &context_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT; }
CUresult cuCtxSynchronize() { return CUDA_SUCCESS; }

CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
	std::lock_guard<std::mutex> l(mu);
	*free = kMemory - used;
	*total = kMemory;
	return CUDA_SUCCESS;
}
CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (n == 0) return CUDA_ERROR_INVALID_VALUE;
	if (n > kMemory - used) return CUDA_ERROR_OUT_OF_MEMORY;
	size_t body = (n + 255) / 256 * 256;
	unsigned char *b = (unsigned char *)aligned_alloc(256, body + 2 * kGuard);
	if (!b) return CUDA_ERROR_OUT_OF_MEMORY;
	memset(b, kPoison, body + 2 * kGuard);
	uintptr_t a = (uintptr_t)(b + kGuard);
	allocs[a] = n;
	used += n;
	*p = a;
	return CUDA_SUCCESS;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
	std::lock_guard<std::mutex> l(mu);
	auto it = allocs.find(p);
	if (it == allocs.end()) return CUDA_ERROR_INVALID_VALUE;
	used -= it->second;
	free((unsigned char *)p - kGuard);
	allocs.erase(it);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n)) return CUDA_ERROR_INVALID_VALUE;
	memcpy((void *)dst, src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(src, n)) return CUDA_ERROR_INVALID_VALUE;
	memcpy(dst, (const void *)src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n) || !inside(src, n)) return CUDA_ERROR_INVALID_VALUE;
	memmove((void *)dst, (const void *)src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *) { return cuMemcpyDtoD_v2(dst, src, n); }
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned v, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n * 4) || dst % 4 != 0) return CUDA_ERROR_INVALID_VALUE;
	unsigned *d = (unsigned *)dst;
	for (size_t i = 0; i < n; i++) d[i] = v;
	return CUDA_SUCCESS;
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned v, size_t n, void *) { return cuMemsetD32_v2(dst, v, n); }

CUresult cuModuleLoadData(void **mod, const void *image) {
	uint32_t magic;
	memcpy(&magic, image, 4);
	if (magic != 0xBA55ED50u) return CUDA_ERROR_INVALID_IMAGE;
	*mod = &module_token;
	return CUDA_SUCCESS;
}
CUresult cuModuleUnload(void *mod) { return mod == &module_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }
CUresult cuModuleGetFunction(void **fn, void *mod, const char *name) {
	if (mod != &module_token) return CUDA_ERROR_INVALID_HANDLE;
	for (auto &k : registry) {
		if (strcmp(k.name, name) == 0) {
			*fn = (void *)&k;
			return CUDA_SUCCESS;
		}
	}
	return CUDA_ERROR_NOT_FOUND;
}

CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned shared, void *stream, void **params, void **extra) {
	std::lock_guard<std::mutex> l(mu);
	if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || (size_t)bx * by * bz > 1024 || shared != 0 ||
		extra != nullptr)
		return CUDA_ERROR_INVALID_VALUE;
	const Kernel *k = (const Kernel *)fn;
	if (k < registry || k >= registry + sizeof registry / sizeof registry[0]) return CUDA_ERROR_INVALID_HANDLE;
	int n = bx * by * bz;
	if ((int)fibers.size() < n) {
		fibers.resize(n);
		for (auto &f : fibers) f.stack.resize(kStack);
	}
	for (int i = 0; i < n; i++) fibers[i].tid = dim3{unsigned(i % bx), unsigned(i / bx % by), unsigned(i / (bx * by))};
	running = k;
	running_params = params;
	blockDim = dim3{bx, by, bz};
	gridDim = dim3{gx, gy, gz};
	for (unsigned z = 0; z < gz; z++)
		for (unsigned y = 0; y < gy; y++)
			for (unsigned x = 0; x < gx; x++) {
				blockIdx = dim3{x, y, z};
				if (!run_block(n)) {
					fprintf(stderr, "cuda emulator: %s: block (%u,%u,%u): threads disagree about __syncthreads\n",
						k->name, x, y, z);
					return CUDA_ERROR_LAUNCH_FAILED;
				}
			}
	return guards_intact(k->name) ? CUDA_SUCCESS : CUDA_ERROR_ILLEGAL_ADDRESS;
}

CUresult cuStreamCreate(void **s, unsigned) {
	*s = &stream_token;
	return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(void *s) { return s == &stream_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }
CUresult cuStreamSynchronize(void *) { return CUDA_SUCCESS; }

CUresult cuGetErrorName(CUresult, const char **s) {
	*s = nullptr;
	return CUDA_ERROR_INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult, const char **s) {
	*s = nullptr;
	return CUDA_ERROR_INVALID_VALUE;
}

} // extern "C"
