// A CPU emulation of the part of the CUDA driver API that package cuda
// binds, with the kernels of ../../kernels compiled in (emu.h), for testing
// the Go side and the kernels on machines without a GPU. Build it with
// package emu, which compiles this file with the kernel sources and a
// registry of kernel names (registry.inc) into a shared library that
// cuda.SetDriverLibrary loads in place of libcuda.so.1.
//
// Launches run synchronously, serialised by one lock; each thread of a
// block is a fiber, switched at __syncthreads, so a block's
// threads interleave deterministically. Device memory is host memory with
// guard bands filled with 0xFF bytes (a NaN as float and as double), also
// the content of fresh allocations: reading past a buffer or reading
// memory never written gives NaNs, and writing past a buffer is found
// after the launch (CUDA_ERROR_ILLEGAL_ADDRESS).
//
// What a GPU would do differently is checked where it can be, each
// failure explained on stderr:
//   - device memory is not host memory: outside the emulator's own calls
//     every allocation is mapped without access (PROT_NONE), so a host
//     program that reads or writes device memory directly, instead of
//     copying it, faults here as it would with a GPU;
//   - every pointer argument of a kernel must be null or point into a
//     device allocation (a host pointer works here, since device memory
//     is host memory, but not on a GPU): CUDA_ERROR_INVALID_VALUE; and it
//     must be aligned for its type (a double * at a multiple of 8), which
//     x86 does not need but a GPU does: CUDA_ERROR_MISALIGNED_ADDRESS;
//   - grid and block sizes are held to a GPU's limits (grid x < 2³¹,
//     y and z ≤ 65535; block x, y ≤ 1024, z ≤ 64, at most 1024 threads):
//     CUDA_ERROR_INVALID_VALUE;
//   - every launch runs twice from the same memory: blocks in order and
//     each block's threads in order, then both reversed. A GPU runs them
//     in any order, at once, so results that differ between the two runs
//     mean a race (threads of a block exchanging data without a
//     __syncthreads between, blocks depending on each other, a block
//     reading shared memory it did not write): CUDA_ERROR_LAUNCH_FAILED.
#include "emu.h"

#include <chrono>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

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
	CUDA_ERROR_MISALIGNED_ADDRESS = 716,
	CUDA_ERROR_LAUNCH_FAILED = 719,
};

// Emulated device memory: 1 GiB.
const size_t kMemory = size_t(1) << 30;
// Bytes of guard band on each side of an allocation: one page (the
// allocations are mappings of their own, page-aligned).
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

// region_size returns the bytes mapped for an allocation of n bytes: the
// lower guard band, the buffer and the upper guard band, rounded up to
// whole pages.
size_t region_size(size_t n) {
	size_t page = sysconf(_SC_PAGESIZE);
	return (kGuard + n + kGuard + page - 1) / page * page;
}

// set_access opens the allocation at a of n bytes (with its guard bands)
// to reading and writing, or closes it to any access.
void set_access(uintptr_t a, size_t n, bool open) {
	if (mprotect((void *)(a - kGuard), region_size(n), open ? PROT_READ | PROT_WRITE : PROT_NONE) != 0) {
		perror("cuda emulator: mprotect");
		abort();
	}
}

// Access keeps allocations open for the emulator's own use while it
// exists: those holding the given addresses, or every one.
class Access {
	std::vector<std::pair<uintptr_t, size_t>> open_;

public:
	// Access opens every allocation.
	Access() {
		for (auto &a : allocs) open_.push_back(a);
		for (auto &a : open_) set_access(a.first, a.second, true);
	}
	// Access opens the allocations holding p and q (0: none).
	Access(uintptr_t p, uintptr_t q) {
		for (uintptr_t x : {p, q}) {
			auto it = allocs.upper_bound(x);
			if (x == 0 || it == allocs.begin()) continue;
			--it;
			if (x < it->first + it->second) open_.push_back(*it);
		}
		for (auto &a : open_) set_access(a.first, a.second, true);
	}
	~Access() {
		for (auto &a : open_) set_access(a.first, a.second, false);
	}
	Access(const Access &) = delete;
	Access &operator=(const Access &) = delete;
};

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

// Pointer argument problems a checker finds.
enum PointerProblem { kNotDevice, kMisaligned };

// pointer_problem returns -1 if p is null or points into an allocation at
// a multiple of align, else the problem.
int pointer_problem(uintptr_t p, size_t align) {
	if (p == 0) return -1;
	if (!inside(p, 1)) return kNotDevice;
	return p % align == 0 ? -1 : kMisaligned;
}

// Kernels: a launcher unpacks kernelParams into the kernel's arguments; a
// checker returns 2·i + problem for the first pointer argument i that is
// not a device pointer aligned for its type, or -1.
typedef std::function<void(void **)> Launcher;
typedef std::function<int(void **)> Checker;

template <class... A, size_t... I>
void invoke(void (*f)(A...), void **p, std::index_sequence<I...>) {
	f(*static_cast<typename std::remove_reference<A>::type *>(p[I])...);
}

template <class... A, size_t... I>
int first_bad_pointer(void **p, std::index_sequence<I...>) {
	int bad = -1;
	// Only pointer arguments are read, as the pointers they are.
	int problem = -1;
	((bad < 0 && std::is_pointer<A>::value &&
				 (problem = pointer_problem(*static_cast<uintptr_t *>(p[I]), alignof(std::remove_pointer_t<A>))) >= 0
			 ? bad = I
			 : 0),
		...);
	return bad < 0 ? -1 : 2 * bad + problem;
}

template <class... A>
Launcher launcher(void (*f)(A...)) {
	return [f](void **p) { invoke(f, p, std::index_sequence_for<A...>{}); };
}

template <class... A>
Checker checker(void (*)(A...)) {
	return [](void **p) { return first_bad_pointer<A...>(p, std::index_sequence_for<A...>{}); };
}

struct Kernel {
	const char *name;
	Launcher run;
	Checker check;
};

#define REG(name) {#name, launcher(&name), checker(&name)},
Kernel registry[] = {
#include "registry.inc"
};

// Fibers. Each is created once, on a stack of its own, and parked between
// blocks; switches between the scheduler and a fiber use _setjmp and
// _longjmp, which, unlike swapcontext, do not save and restore the signal
// mask with a system call each time.
enum State { kReady, kAtBarrier, kDone };
struct Fiber {
	ucontext_t ctx; // only to enter the fiber the first time
	jmp_buf buf;
	std::vector<char> stack;
	State state;
	dim3 tid;
};
const size_t kStack = 128 << 10;
std::vector<std::unique_ptr<Fiber>> fibers;
ucontext_t creator;
jmp_buf scheduler;
Fiber *current;
const Kernel *running;
void **running_params;

// yield parks the running fiber and returns to the scheduler.
void yield() {
	if (!_setjmp(current->buf)) _longjmp(scheduler, 1);
}

// fiber_main is the body of every fiber: it parks at once, returning to
// new_fiber, and then runs the kernel for each block it is resumed in.
void fiber_main() {
	if (!_setjmp(current->buf)) swapcontext(&current->ctx, &creator);
	for (;;) {
		running->run(running_params);
		current->state = kDone;
		yield();
	}
}

// new_fiber returns a new fiber, parked.
std::unique_ptr<Fiber> new_fiber() {
	auto f = std::make_unique<Fiber>();
	f->stack.resize(kStack);
	getcontext(&f->ctx);
	f->ctx.uc_stack.ss_sp = f->stack.data();
	f->ctx.uc_stack.ss_size = f->stack.size();
	f->ctx.uc_link = nullptr;
	makecontext(&f->ctx, fiber_main, 0);
	current = f.get();
	swapcontext(&creator, &f->ctx);
	return f;
}

// run_block runs every thread of block blockIdx to completion, in
// between barriers in the order of their indices, or in the reverse order
// when reversed. It returns false if the threads disagree about
// __syncthreads (some finished while others wait at one); the fibers left
// inside the kernel are then replaced by new ones.
bool run_block(int nthreads, bool reversed) {
	for (int i = 0; i < nthreads; i++) fibers[i]->state = kReady;
	for (;;) {
		int done = 0;
		for (int j = 0; j < nthreads; j++) {
			Fiber &f = *fibers[reversed ? nthreads - 1 - j : j];
			if (f.state == kReady) {
				current = &f;
				threadIdx = f.tid;
				if (!_setjmp(scheduler)) _longjmp(f.buf, 1);
			}
			if (f.state == kDone) done++;
		}
		if (done == nthreads) return true;
		if (done > 0) {
			for (int i = 0; i < nthreads; i++)
				if (fibers[i]->state != kDone) {
					dim3 tid = fibers[i]->tid;
					fibers[i] = new_fiber();
					fibers[i]->tid = tid;
				}
			return false;
		}
		for (int i = 0; i < nthreads; i++) fibers[i]->state = kReady;
	}
}

} // namespace

void __syncthreads() {
	current->state = kAtBarrier;
	yield();
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
	size_t size = region_size(n);
	void *m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
	memset(m, kPoison, size);
	uintptr_t a = (uintptr_t)m + kGuard;
	set_access(a, n, false);
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
	munmap((void *)(p - kGuard), region_size(it->second));
	allocs.erase(it);
	return CUDA_SUCCESS;
}
// Page-locked host memory is ordinary host memory here, its contents
// undefined (poison) as the driver's are.
std::map<void *, size_t> host_allocs;
CUresult cuMemAllocHost_v2(void **p, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (n == 0) return CUDA_ERROR_INVALID_VALUE;
	size_t page = sysconf(_SC_PAGESIZE);
	void *m = aligned_alloc(page, (n + page - 1) / page * page);
	if (m == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
	memset(m, kPoison, n);
	host_allocs[m] = n;
	*p = m;
	return CUDA_SUCCESS;
}
CUresult cuMemFreeHost(void *p) {
	std::lock_guard<std::mutex> l(mu);
	auto it = host_allocs.find(p);
	if (it == host_allocs.end()) return CUDA_ERROR_INVALID_VALUE;
	free(p);
	host_allocs.erase(it);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n)) return CUDA_ERROR_INVALID_VALUE;
	Access open(dst, 0);
	memcpy((void *)dst, src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *) { return cuMemcpyHtoD_v2(dst, src, n); }
CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(src, n)) return CUDA_ERROR_INVALID_VALUE;
	Access open(src, 0);
	memcpy(dst, (const void *)src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n) || !inside(src, n)) return CUDA_ERROR_INVALID_VALUE;
	Access open(dst, src);
	memmove((void *)dst, (const void *)src, n);
	return CUDA_SUCCESS;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *) { return cuMemcpyDtoD_v2(dst, src, n); }
CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned v, size_t n) {
	std::lock_guard<std::mutex> l(mu);
	if (!inside(dst, n * 4) || dst % 4 != 0) return CUDA_ERROR_INVALID_VALUE;
	Access open(dst, 0);
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

} // extern "C"

namespace {

// snapshot returns a copy of the contents of every allocation, in the
// order of allocs.
std::vector<std::vector<unsigned char>> snapshot() {
	std::vector<std::vector<unsigned char>> s;
	s.reserve(allocs.size());
	for (auto &a : allocs) s.emplace_back((unsigned char *)a.first, (unsigned char *)a.first + a.second);
	return s;
}

// restore writes the contents s (a snapshot) back into the allocations.
void restore(const std::vector<std::vector<unsigned char>> &s) {
	size_t i = 0;
	for (auto &a : allocs) memcpy((void *)a.first, s[i++].data(), a.second);
}

// run_grid runs every block of the grid, in the order of their indices
// or reversed (and each block's threads with them). It returns false,
// saying why on stderr, if a block's threads disagree about
// __syncthreads.
bool run_grid(const Kernel *k, int nthreads, bool reversed) {
	long long nblocks = (long long)gridDim.x * gridDim.y * gridDim.z;
	for (long long j = 0; j < nblocks; j++) {
		long long b = reversed ? nblocks - 1 - j : j;
		blockIdx = dim3{unsigned(b % gridDim.x), unsigned(b / gridDim.x % gridDim.y),
			unsigned(b / ((long long)gridDim.x * gridDim.y))};
		if (!run_block(nthreads, reversed)) {
			fprintf(stderr, "cuda emulator: %s: block (%u,%u,%u): threads disagree about __syncthreads\n", k->name,
				blockIdx.x, blockIdx.y, blockIdx.z);
			return false;
		}
	}
	return true;
}

} // namespace

extern "C" {

CUresult cuLaunchKernel(void *fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
		unsigned shared, void *stream, void **params, void **extra) {
	std::lock_guard<std::mutex> l(mu);
	const Kernel *k = (const Kernel *)fn;
	if (k < registry || k >= registry + sizeof registry / sizeof registry[0]) return CUDA_ERROR_INVALID_HANDLE;
	if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0 || gx > 0x7fffffffu || gy > 65535 ||
		gz > 65535 || bx > 1024 || by > 1024 || bz > 64 || (size_t)bx * by * bz > 1024) {
		fprintf(stderr, "cuda emulator: %s: grid (%u,%u,%u) or block (%u,%u,%u) beyond a GPU's limits\n", k->name,
			gx, gy, gz, bx, by, bz);
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (shared != 0 || extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
	int bad = k->check(params);
	if (bad >= 0) {
		fprintf(stderr, "cuda emulator: %s: argument %d (%#llx) %s\n", k->name, bad / 2,
			(unsigned long long)*static_cast<uintptr_t *>(params[bad / 2]),
			bad % 2 == kNotDevice ? "points into no device allocation" : "is misaligned for its type");
		return bad % 2 == kNotDevice ? CUDA_ERROR_INVALID_VALUE : CUDA_ERROR_MISALIGNED_ADDRESS;
	}
	int n = bx * by * bz;
	while ((int)fibers.size() < n) fibers.push_back(new_fiber());
	for (int i = 0; i < n; i++) fibers[i]->tid = dim3{unsigned(i % bx), unsigned(i / bx % by), unsigned(i / (bx * by))};
	running = k;
	running_params = params;
	blockDim = dim3{bx, by, bz};
	gridDim = dim3{gx, gy, gz};
	Access open;
	auto before = snapshot();
	if (!run_grid(k, n, false)) return CUDA_ERROR_LAUNCH_FAILED;
	if (!guards_intact(k->name)) return CUDA_ERROR_ILLEGAL_ADDRESS;
	auto forward = snapshot();
	restore(before);
	if (!run_grid(k, n, true)) return CUDA_ERROR_LAUNCH_FAILED;
	if (!guards_intact(k->name)) return CUDA_ERROR_ILLEGAL_ADDRESS;
	size_t i = 0;
	for (auto &a : allocs) {
		const unsigned char *now = (const unsigned char *)a.first;
		if (memcmp(now, forward[i].data(), a.second) != 0) {
			size_t b = 0;
			while (now[b] == forward[i][b]) b++;
			fprintf(stderr,
				"cuda emulator: %s: a race: the result depends on the order of the threads or blocks "
				"(byte %zu of the %zu-byte buffer at %#lx differs between running them in order and reversed)\n",
				k->name, b, a.second, (unsigned long)a.first);
			return CUDA_ERROR_LAUNCH_FAILED;
		}
		i++;
	}
	return CUDA_SUCCESS;
}

CUresult cuStreamCreate(void **s, unsigned) {
	*s = &stream_token;
	return CUDA_SUCCESS;
}
CUresult cuStreamDestroy_v2(void *s) { return s == &stream_token ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE; }
CUresult cuStreamSynchronize(void *) { return CUDA_SUCCESS; }

// Events. Work is done when it is queued, so every event is complete
// when it is recorded, and a timing event keeps the host's time of its
// last record; what is checked is that the handles and flags are valid:
// an event of cuEventCreate not yet destroyed, a stream of cuStreamCreate
// or null, and for cuEventElapsedTime two timing events, both recorded.
struct Event {
	bool timing = false, recorded = false;
	std::chrono::steady_clock::time_point at;
};
static std::map<void *, std::unique_ptr<Event>> events;
static bool valid_stream(void *s) { return s == nullptr || s == &stream_token; }
static bool valid_event(void *e) { return events.count(e) != 0; }
CUresult cuEventCreate(void **e, unsigned flags) {
	std::lock_guard<std::mutex> l(mu);
	if ((flags & ~0x7u) != 0) return CUDA_ERROR_INVALID_VALUE;
	auto ev = std::make_unique<Event>();
	ev->timing = (flags & 0x2u) == 0; // CU_EVENT_DISABLE_TIMING
	*e = ev.get();
	events[*e] = std::move(ev);
	return CUDA_SUCCESS;
}
CUresult cuEventRecord(void *e, void *s) {
	std::lock_guard<std::mutex> l(mu);
	if (!valid_event(e) || !valid_stream(s)) return CUDA_ERROR_INVALID_HANDLE;
	events[e]->recorded = true;
	events[e]->at = std::chrono::steady_clock::now();
	return CUDA_SUCCESS;
}
CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
	std::lock_guard<std::mutex> l(mu);
	if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
	return valid_event(e) && valid_stream(s) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUresult cuEventSynchronize(void *e) {
	std::lock_guard<std::mutex> l(mu);
	return valid_event(e) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
CUresult cuEventElapsedTime(float *ms, void *start, void *end) {
	std::lock_guard<std::mutex> l(mu);
	if (!valid_event(start) || !valid_event(end)) return CUDA_ERROR_INVALID_HANDLE;
	Event *a = events[start].get(), *b = events[end].get();
	if (!a->timing || !b->timing || !a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
	*ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
	return CUDA_SUCCESS;
}
CUresult cuEventDestroy_v2(void *e) {
	std::lock_guard<std::mutex> l(mu);
	return events.erase(e) == 1 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult cuGetErrorName(CUresult, const char **s) {
	*s = nullptr;
	return CUDA_ERROR_INVALID_VALUE;
}
CUresult cuGetErrorString(CUresult, const char **s) {
	*s = nullptr;
	return CUDA_ERROR_INVALID_VALUE;
}

} // extern "C"
