// Package dataset reads the CIFAR-10 data set in its official binary
// layout and turns it into mini-batches of normalised float32 images.
//
// The binary layout is a sequence of records of [RecordSize] bytes: one
// label byte (0-9) followed by the 1024 red, 1024 green and 1024 blue bytes
// of a 32x32 image, each channel stored row by row. The training set is the
// concatenation of data_batch_1.bin ... data_batch_5.bin and the test set is
// test_batch.bin; the official archive holds them in a directory named
// cifar-10-batches-bin.
//
// [LoadTrain], [LoadTest] and [LoadFiles] read the files from a directory or
// straight from a .tar.gz archive. [Loader] cuts a [Set] into batches,
// optionally shuffled and augmented, with an order that depends only on the
// seed and the epoch number. [Download] and [Ensure] fetch the official
// archive.
package dataset

import (
	"fmt"
	"math/rand/v2"
)

// Dimensions of a CIFAR-10 image and record.
const (
	Channels   = 3                         // colour channels, in the order R, G, B
	Height     = 32                        // rows per image
	Width      = 32                        // pixels per row
	ImageSize  = Channels * Height * Width // bytes per image (3072)
	NumClasses = 10                        // number of labels
	RecordSize = 1 + ImageSize             // bytes per record in a .bin file (3073)
)

// ClassNames holds the name of each class, indexed by label.
var ClassNames = [NumClasses]string{
	"airplane",
	"automobile",
	"bird",
	"cat",
	"deer",
	"dog",
	"frog",
	"horse",
	"ship",
	"truck",
}

// Names of the files of the official binary distribution.
const (
	// BatchesDir is the directory that holds the .bin files, both inside
	// the official archive and once it is unpacked.
	BatchesDir = "cifar-10-batches-bin"
	// ArchiveName is the file name of the official archive.
	ArchiveName = "cifar-10-binary.tar.gz"
	// TestFile is the file that holds the test set.
	TestFile = "test_batch.bin"
)

// TrainFiles lists the files that hold the training set, in order.
var TrainFiles = [5]string{
	"data_batch_1.bin",
	"data_batch_2.bin",
	"data_batch_3.bin",
	"data_batch_4.bin",
	"data_batch_5.bin",
}

// A Set is a sequence of labelled images held as raw bytes.
//
// Image i occupies Pixels[i*ImageSize:(i+1)*ImageSize] in channel-major
// (CHW) order: the byte of channel c, row y and column x is at offset
// c*Height*Width + y*Width + x within the image. Its label, in [0, 9], is
// Labels[i]. len(Pixels) must equal len(Labels)*ImageSize.
type Set struct {
	Pixels []byte
	Labels []uint8
}

// Len returns the number of images in s.
func (s *Set) Len() int { return len(s.Labels) }

// Image returns the ImageSize bytes of image i. The result shares memory
// with s.Pixels.
func (s *Set) Image(i int) []byte {
	return s.Pixels[i*ImageSize : (i+1)*ImageSize : (i+1)*ImageSize]
}

// Subset returns a new Set holding copies of the images idx, in the order
// of idx. An index may appear more than once. Subset panics if an index is
// out of range.
func (s *Set) Subset(idx []int) *Set {
	n := s.Len()
	for _, i := range idx {
		if i < 0 || i >= n {
			panic(fmt.Sprintf("dataset: Subset index %d out of range [0, %d)", i, n))
		}
	}
	t := &Set{
		Pixels: make([]byte, len(idx)*ImageSize),
		Labels: make([]uint8, len(idx)),
	}
	for j, i := range idx {
		copy(t.Pixels[j*ImageSize:(j+1)*ImageSize], s.Pixels[i*ImageSize:(i+1)*ImageSize])
		t.Labels[j] = s.Labels[i]
	}
	return t
}

// Split shuffles the indices 0..N-1 of s, where N is s.Len(), with a
// math/rand/v2 PCG generator seeded by seed, and returns copies of the
// images at the last N-valSize shuffled positions as train and of those at
// the first valSize positions as val. The result depends only on N,
// valSize and seed. Split returns an error if valSize < 0 or valSize >= N.
func (s *Set) Split(valSize int, seed int64) (train, val *Set, err error) {
	n := s.Len()
	if valSize < 0 || valSize >= n {
		return nil, nil, fmt.Errorf("dataset: validation size %d out of range [0, %d)", valSize, n)
	}
	rng := rand.New(rand.NewPCG(mix64(uint64(seed)), mix64(splitStream)))
	perm := rng.Perm(n)
	return s.Subset(perm[valSize:]), s.Subset(perm[:valSize]), nil
}

// Stream constants keep the generators of Split and Loader apart even when
// they are given the same seed.
const (
	splitStream = 0x5350_4c49_5421 // "SPLIT!"
	epochStream = 0x4550_4f43_4821 // "EPOCH!"
)

// mix64 is the SplitMix64 finaliser. It spreads nearby seeds (0, 1, 2, ...)
// over the whole 64-bit state space.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
