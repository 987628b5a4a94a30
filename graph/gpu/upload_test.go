package gpu_test

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/graph/backend"
	"github.com/cifar-resnet/trainer/graph/gpu"
)

// BenchmarkUpload times the shape of the start of a training step: the
// previous step's work still queued (four 16-channel 3×3 convolutions),
// then the upload of a batch of images from page-locked memory, then a
// wait for everything. staged is Upload, which copies over the bus while
// the convolutions run; plain copies after them (cuda.Upload), the device
// idle meanwhile. The batch is 512 images (6.3 MB) on a GPU, 2 on the
// emulator, where only the code path is tried.
func BenchmarkUpload(b *testing.B) {
	be := device(b)
	n := 512
	if kind != "GPU" {
		n = 2
	}
	g := backend.NewConvGeom(n, 16, 32, 32, 16, 3, 1, 1)
	tensors := func(shape ...int) *tensor.Dense {
		t, err := be.NewTensor(tensor.Float32, shape...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { be.Release(t) })
		if err := be.Upload(t, make([]float32, tensor.Shape(shape).TotalSize())); err != nil {
			b.Fatal(err)
		}
		return t
	}
	x, w, y := tensors(n, 16, 32, 32), tensors(16, 16, 3, 3), tensors(n, 16, 32, 32)
	images := tensors(n, 3, 32, 32)
	host, err := be.NewHostTensor(tensor.Float32, n, 3, 32, 32)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.ReleaseHost(host) })
	src := host.Data().([]float32)
	for _, c := range []struct {
		name   string
		upload func() error
	}{
		{"plain", func() error { return gpu.UploadPlain(be.Engine(), images, src) }},
		{"staged", func() error { return be.Upload(images, src) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(4 * len(src)))
			for b.Loop() {
				for range 4 {
					if err := be.Conv2D(x, w, y, g); err != nil {
						b.Fatal(err)
					}
				}
				if err := c.upload(); err != nil {
					b.Fatal(err)
				}
				if err := be.Device().Synchronize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
