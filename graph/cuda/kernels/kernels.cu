// The trainer's CUDA kernels, one translation unit: nvcc compiles this
// file into kernels.fatbin (see generate.go), and the CPU emulator
// (../emu) compiles it as C++.
#include "elementwise.cu"
#include "pool.cu"
#include "dense.cu"
#include "conv.cu"
#include "conv3x3.cu"
#include "batchnorm.cu"
#include "loss.cu"
#include "optim.cu"
