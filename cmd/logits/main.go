// Command logits writes what the interop cross-check (interop/crosscheck.sh)
// compares: the first images of the validation split of a configuration,
// normalised as the network sees them, their labels, and the logits the Go
// network computes for them.
//
//	logits -checkpoint CKPT -data PATH [-n 1000] -out DIR
//	logits -config YAML -data PATH [-n 1000] [-train 1280] -out DIR
//
// In DIR it writes images.f32 (n×3×32×32 float32, little-endian, NCHW),
// labels.u8 (n bytes), meta.json (the architecture as torch_ref.py's --arch
// and --stem take it, the batch norm's epsilon and momentum, n) and, with
// -checkpoint, logits.f32 (n×10 float32: the network of the checkpoint in
// evaluation mode, a single view of each image, the weights that trainer
// test uses). With -train it also writes the first images of the training
// split, train_images.f32 and train_labels.u8, for a few steps of training
// elsewhere. The split is that of the configuration (the checkpoint's):
// data.val_size and data.seed, as trainer test -split val uses it.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cifar-resnet/trainer/cmd/internal/exitcode"
	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

func main() {
	os.Exit(exitcode.Of("logits", run(os.Args[1:]), os.Stderr))
}

func run(args []string) error {
	fs := flag.NewFlagSet("logits", flag.ContinueOnError)
	ckpt := fs.String("checkpoint", "", "the checkpoint whose logits to write")
	cfgPath := fs.String("config", "", "without -checkpoint: the configuration whose split and normalisation to use")
	data := fs.String("data", "", "the CIFAR-10 training data (directory or .tar.gz)")
	n := fs.Int("n", 1000, "how many validation images (at most the split's)")
	nTrain := fs.Int("train", 0, "also write this many training images")
	out := fs.String("out", "", "the folder to write into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*ckpt == "") == (*cfgPath == "") || *data == "" || *out == "" {
		return errors.New("want -data, -out and one of -checkpoint and -config")
	}
	var cfg config.Config
	var c *model.Classifier
	if *ckpt != "" {
		f, err := checkpoint.Load(*ckpt)
		if err != nil {
			return err
		}
		if c, err = model.FromCheckpoint(f); err != nil {
			return err
		}
		defer c.Close()
		cfg = f.Config
	} else {
		var err error
		if cfg, err = config.Load(*cfgPath); err != nil {
			return err
		}
	}
	all, err := dataset.LoadTrain(*data)
	if err != nil {
		return err
	}
	train, val, err := all.Split(cfg.Data.ValSize, cfg.Data.Seed)
	if err != nil {
		return err
	}
	if *n <= 0 || *n > val.Len() || *nTrain < 0 || *nTrain > train.Len() {
		return fmt.Errorf("-n must be 1 to %d and -train 0 to %d", val.Len(), train.Len())
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	norm := dataset.NewNormalization(cfg.Data.Normalize)
	images, labels := fill(val, *n, norm)
	if err := writeFloats(filepath.Join(*out, "images.f32"), images); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "labels.u8"), labels, 0o644); err != nil {
		return err
	}
	if *nTrain > 0 {
		ti, tl := fill(train, *nTrain, norm)
		if err := writeFloats(filepath.Join(*out, "train_images.f32"), ti); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, "train_labels.u8"), tl, 0o644); err != nil {
			return err
		}
	}
	meta, err := json.MarshalIndent(map[string]any{
		"arch": model.TorchArch(cfg.Model), "stem": cfg.Model.StemChannels,
		"bn_epsilon": cfg.Model.BNEpsilon, "bn_momentum": cfg.Model.BNMomentum,
		"n": *n, "train": *nTrain,
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "meta.json"), append(meta, '\n'), 0o644); err != nil {
		return err
	}
	if c == nil {
		return nil
	}
	logits, err := c.Logits(images)
	if err != nil {
		return err
	}
	return writeFloats(filepath.Join(*out, "logits.f32"), logits)
}

// fill returns the first n images of s, normalised, and their labels.
func fill(s *dataset.Set, n int, norm dataset.Normalization) ([]float32, []byte) {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	x := make([]float32, n*dataset.ImageSize)
	labels := make([]int, n)
	s.Fill(x, labels, idx, norm)
	b := make([]byte, n)
	for i, l := range labels {
		b[i] = byte(l)
	}
	return x, b
}

// writeFloats writes xs as little-endian float32 values.
func writeFloats(path string, xs []float32) error {
	return checkpoint.WriteFileAtomic(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		if err := binary.Write(bw, binary.LittleEndian, xs); err != nil {
			return err
		}
		return bw.Flush()
	})
}
