package model

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx"
	"github.com/cifar-resnet/trainer/model/safetensors"
	"github.com/cifar-resnet/trainer/model/statedict"
)

// Interop: the weights of a checkpoint as an ONNX model or as the
// safetensors state_dict of the PyTorch twin of the network (the ResNet of
// ../shared/bench/torch_ref.py), and a PyTorch state_dict back into a
// checkpoint. The exports take the weights that Load would use: the best
// copy when the checkpoint has one.

// TorchArch returns the architecture of cfg as torch_ref.py's --arch flag
// takes it: the stages as CxN/S (channels, blocks, stride of the first
// block), separated by commas, such as "16x2/1,32x2/2" for the reference
// network. torch_ref.py's --stem takes cfg.StemChannels.
func TorchArch(cfg config.Model) string {
	parts := make([]string, len(cfg.Stages))
	for i, s := range cfg.Stages {
		parts[i] = fmt.Sprintf("%dx%d/%d", s.Channels, s.Blocks, s.Stride)
	}
	return strings.Join(parts, ",")
}

// Metadata keys that the exports write to describe the network and its
// input. ImportSafetensors checks those marked checked, when a file has
// them, against the configuration it is given.
var exportMetadata = []struct {
	key     string
	value   func(config.Config) string
	checked bool
}{
	{"arch", func(c config.Config) string { return TorchArch(c.Model) }, true},
	{"stem", func(c config.Config) string { return strconv.Itoa(c.Model.StemChannels) }, true},
	{"bn_epsilon", func(c config.Config) string { return formatFloats(c.Model.BNEpsilon) }, true},
	{"bn_momentum", func(c config.Config) string { return formatFloats(c.Model.BNMomentum) }, false},
	{"normalize_mean", func(c config.Config) string { return formatFloats(c.Data.Normalize.Mean...) }, true},
	{"normalize_std", func(c config.Config) string { return formatFloats(c.Data.Normalize.Std...) }, true},
	{"classes", func(config.Config) string { return strings.Join(dataset.ClassNames[:], ",") }, false},
}

// formatFloats writes numbers in the shortest form that reads back
// exactly, separated by commas.
func formatFloats(xs ...float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// metadata returns the metadata the exports write for cfg.
func metadata(cfg config.Config) map[string]string {
	m := make(map[string]string, len(exportMetadata))
	for _, e := range exportMetadata {
		m[e.key] = e.value(cfg)
	}
	return m
}

// trainedBatches returns the number of training batches the weights that
// FromCheckpoint takes from f have seen, PyTorch's num_batches_tracked:
// f.Step for the current weights, and for the best copy (taken at the end
// of epoch BestEpoch) BestEpoch times the batches of an epoch.
func trainedBatches(f *checkpoint.File) int64 {
	if len(f.BestParams) == 0 || f.Epoch == 0 {
		return f.Step
	}
	perEpoch := (f.Step - int64(f.Partial.Batches)) / int64(f.Epoch)
	return max(0, int64(f.BestEpoch)*perEpoch)
}

// ExportSafetensors writes the weights of the checkpoint f (those Load
// would use) in the safetensors format, as the state_dict of the PyTorch
// twin of the network: torch_ref.py's ResNet built with --arch
// TorchArch(f.Config.Model) and --stem f.Config.Model.StemChannels loads
// it with load_state_dict unchanged (see package statedict for the names).
// Every batch norm's num_batches_tracked is the number of training batches
// the weights have seen. The metadata ("__metadata__") holds "format": "pt"
// and the architecture (arch, stem), the batch norm's bn_epsilon and
// bn_momentum, the input normalisation (normalize_mean, normalize_std:
// the network's input is (p/255 − mean)/std per channel) and the class
// names.
func ExportSafetensors(w io.Writer, f *checkpoint.File) error {
	c, err := FromCheckpoint(f)
	if err != nil {
		return err
	}
	sd, err := statedict.Export(c.Model.ParamTensors(), c.Model.StatTensors(), trainedBatches(f))
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	meta := metadata(f.Config)
	meta["format"] = "pt"
	if err := safetensors.Write(w, &safetensors.File{Metadata: meta, Tensors: sd}); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// ExportONNX writes the network of the checkpoint f in evaluation mode,
// with the weights Load would use, as an ONNX model (see package onnx):
// input "images", float32 N×3×32×32 normalised as in training, output
// "logits", float32 N×10. The normalisation stays outside the model; the
// model's doc_string states it, and its metadata_props hold the same keys
// as the metadata of ExportSafetensors plus the checkpoint's epoch and
// validation accuracy.
func ExportONNX(w io.Writer, f *checkpoint.File) error {
	c, err := FromCheckpoint(f)
	if err != nil {
		return err
	}
	meta := metadata(f.Config)
	meta["epoch"] = strconv.Itoa(c.Epoch)
	meta["val_acc"] = formatFloats(c.ValAcc)
	b, err := onnx.Export(f.Config.Model, c.Model.ParamTensors(), c.Model.StatTensors(), onnx.Options{
		ProducerName: "github.com/cifar-resnet/trainer",
		DocString:    onnxDoc(f.Config),
		Metadata:     meta,
	})
	if err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// onnxDoc describes the exported network, its input and its output.
func onnxDoc(cfg config.Config) string {
	n := cfg.Data.Normalize
	return fmt.Sprintf("CIFAR-10 residual network (stem %d; stages %s as channels x blocks / stride; %d learnable parameters). "+
		"Input %q: float32 %s x 3 x 32 x 32, RGB planes, rows top to bottom; a pixel p in [0, 255] of channel c is (p/255 - mean[c]) / std[c] "+
		"with mean [%s] and std [%s] (the normalisation is not part of the graph). "+
		"Output %q: float32 %s x 10 logits (unnormalised log-probabilities) of the classes %s.",
		cfg.Model.StemChannels, TorchArch(cfg.Model), Capacity(cfg.Model),
		onnx.Input, onnx.BatchDim, formatFloats(n.Mean...), formatFloats(n.Std...),
		onnx.Output, onnx.BatchDim, strings.Join(dataset.ClassNames[:], ", "))
}

// ImportSafetensors reads a PyTorch state_dict in the safetensors format,
// as torch_ref.py's ResNet saves it (for example with
// safetensors.torch.save_file(model.state_dict(), path)), into a new
// checkpoint of the network cfg describes: epoch 0, the weights as current
// parameters and statistics, no optimizer state. Load and trainer test
// accept it, and a training run can start from it (model.init_from).
//
// Every tensor of the network must be in the file with its shape, float32
// (num_batches_tracked: a scalar int64), finite, and the file must hold
// nothing else; the error lists each tensor that is missing, extra or
// mis-shaped by its PyTorch name. When the file's metadata describes the
// network (arch, stem, bn_epsilon, normalize_mean, normalize_std, as
// ExportSafetensors writes them), each must match cfg. The file is read
// whole, up to checkpoint.MaxSize bytes.
func ImportSafetensors(r io.Reader, cfg config.Config) (*checkpoint.File, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	st, err := safetensors.Read(r, checkpoint.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	for _, e := range exportMetadata {
		got, ok := st.Metadata[e.key]
		if want := e.value(cfg); e.checked && ok && got != want {
			return nil, fmt.Errorf("model: the file's metadata says %s %s, the configuration %s", e.key, got, want)
		}
	}
	m, err := New(cfg.Model, cfg.Seed)
	if err != nil {
		return nil, err
	}
	params, stats, err := statedict.Import(m.ParamTensors(), m.StatTensors(), st.Tensors)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return &checkpoint.File{Version: checkpoint.Version, Config: cfg, Params: params, Stats: stats, Seed: cfg.Seed}, nil
}
