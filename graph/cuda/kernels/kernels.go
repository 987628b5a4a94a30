// Package kernels holds the trainer's CUDA kernels: their CUDA C sources
// (*.cu, *.cuh), the fatbin nvcc compiles them into (PTX for compute_80,
// which the driver compiles for any newer GPU, and machine code for sm_90,
// the H100 and H200), and typed Go functions that launch them.
//
// The fatbin is committed and embedded, so ordinary builds need neither
// nvcc nor cgo. After changing a source, run `go generate` in this
// directory on a machine with the CUDA toolkit (nvcc): it rebuilds
// kernels.fatbin and records the SHA-256 of every source and of the
// fatbin in kernels.sha256. A test checks that the recorded sums match the
// sources, so a stale fatbin fails the build's tests. On Debian 12, nvcc
// (CUDA 11.8) comes from non-free: add "contrib non-free" to the
// Components line of /etc/apt/sources.list.d/debian.sources, then
// apt-get update && apt-get install nvidia-cuda-toolkit. nvcc's output is
// deterministic: the same sources give the same fatbin.
//
// The kernels follow the rules at the top of common.cuh (no shuffles or
// atomics, fixed-order reductions, static shared memory), so that the
// CPU emulator of package graph/cuda/emu runs them too: the tests of this
// package compare every kernel with a float64 reference on a GPU where
// there is one and on the emulator elsewhere.
package kernels

//go:generate sh -c "nvcc -fatbin --no-compress -gencode arch=compute_80,code=compute_80 -gencode arch=compute_90,code=sm_90 -o kernels.fatbin kernels.cu && LC_ALL=C sha256sum *.cu *.cuh kernels.fatbin > kernels.sha256"

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
)

// Fatbin is the compiled module, for cuda.Device.LoadModule.
//
//go:embed kernels.fatbin
var Fatbin []byte

// Sources holds the CUDA C sources the fatbin is compiled from;
// kernels.cu includes all the others.
//
//go:embed *.cu *.cuh
var Sources embed.FS

// Sums is the content of kernels.sha256: the output of sha256sum for each
// source and for kernels.fatbin, written by go generate.
//
//go:embed kernels.sha256
var Sums string

// MainSource is the translation unit that includes every kernel source.
const MainSource = "kernels.cu"

// Block is the number of threads of a block for every kernel (BLOCK in
// common.cuh).
const Block = 256

// The matrix-product kernels compute the result one tile per block: a
// tile of TM rows by tileArea/TM columns (TILE_AREA in common.cuh), or by
// filterCols for the filter gradient (FILTER_COLS in conv.cu). The
// convolution kernels are compiled for each TM of tileRows, smallest
// first, as <name>_m<TM>_f32; sgemm_f32 uses sgemmTileRows.
const (
	tileArea      = 4096
	filterCols    = 32
	sgemmTileRows = 64
)

// The direct 3×3 kernels (conv3x3.cu) compute direct3x3Out output
// channels per block (D3_OUT) on tiles of direct3x3Tile positions
// (D3_TILE) and copy direct3x3In input channels per step (D3_IN); their
// filter gradient computes direct3x3Filter output by direct3x3Filter
// input channels per block (D3F_CH).
const (
	direct3x3Out    = 16
	direct3x3Tile   = 256
	direct3x3In     = 8
	direct3x3Filter = 16
)

// tileRows are the tile heights TM of the convolution kernels.
var tileRows = []int{16, 32, 64}

// kernelDecl matches the declaration of a kernel in the sources.
var kernelDecl = regexp.MustCompile(`(?m)^(?:[A-Z0-9]+_)*KERNEL void ([A-Za-z_][A-Za-z0-9_]*)\(`)

// Names returns the names of all kernels declared in the sources, sorted.
func Names() ([]string, error) {
	var names []string
	err := fs.WalkDir(Sources, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		src, err := fs.ReadFile(Sources, path)
		if err != nil {
			return err
		}
		for _, m := range kernelDecl.FindAllSubmatch(src, -1) {
			names = append(names, string(m[1]))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("kernels: reading the sources: %w", err)
	}
	sort.Strings(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return nil, fmt.Errorf("kernels: kernel %s is declared twice", names[i])
		}
	}
	return names, nil
}
