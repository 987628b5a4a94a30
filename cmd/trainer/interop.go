package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx"
)

// interop runs trainer export and trainer import.
func interop(cmd string, args []string, stdout, stderr io.Writer) error {
	if cmd == "import" {
		return importCmd(args, stdout, stderr)
	}
	return exportCmd(args, stdout, stderr)
}

// Export formats: the -format values and the file extensions that imply
// them.
var exportFormats = map[string]struct {
	ext   string
	write func(io.Writer, *checkpoint.File) error
}{
	"onnx":        {".onnx", model.ExportONNX},
	"safetensors": {".safetensors", model.ExportSafetensors},
}

func exportCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("export", stderr)
	ckpt := fs.String("checkpoint", "", "the checkpoint to export (e.g. models/best.ckpt); the best copy of the weights if it has one, as trainer test uses")
	format := fs.String("format", "", "onnx (the network for ONNX Runtime) or safetensors (the state_dict of the PyTorch twin, torch_ref.py); by default from the extension of -o")
	out := fs.String("o", "", "the file to write (replaced atomically)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" || *out == "" {
		fmt.Fprintln(stderr, "trainer export: -checkpoint and -o are required")
		return errUsage
	}
	if *format == "" {
		for name, f := range exportFormats {
			if strings.EqualFold(filepath.Ext(*out), f.ext) {
				*format = name
			}
		}
		if *format == "" {
			fmt.Fprintf(stderr, "trainer export: -format onnx or safetensors is required when -o does not end in .onnx or .safetensors\n")
			return errUsage
		}
	}
	ef, ok := exportFormats[*format]
	if !ok {
		fmt.Fprintf(stderr, "trainer export: -format must be onnx or safetensors, got %q\n", *format)
		return errUsage
	}
	f, err := checkpoint.Load(*ckpt)
	if err != nil {
		return err
	}
	warnUnchecked(stderr, *ckpt, f)
	if err := checkpoint.WriteFileAtomic(*out, func(w io.Writer) error { return ef.write(w, f) }); err != nil {
		return fmt.Errorf("trainer export: %s: %w", *out, err)
	}
	n := f.Config.Data.Normalize
	switch *format {
	case "onnx":
		fmt.Fprintf(stdout, "wrote %s: ONNX opset %d; input %q float32 %s×3×32×32, each pixel p of channel c as (p/255 − mean[c])/std[c] with mean %v, std %v; output %q float32 %s×10\n",
			*out, onnx.Opset, onnx.Input, onnx.BatchDim, n.Mean, n.Std, onnx.Output, onnx.BatchDim)
	default:
		m := f.Config.Model
		fmt.Fprintf(stdout, "wrote %s: the state_dict of torch_ref.py's ResNet (--arch %s --stem %d); its input is each pixel p of channel c as (p/255 − mean[c])/std[c] with mean %v, std %v\n",
			*out, model.TorchArch(m), m.StemChannels, n.Mean, n.Std)
	}
	return nil
}

func importCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", stderr)
	from := fs.String("from", "", "the PyTorch state_dict to import, in the safetensors format (as torch_ref.py's ResNet names it)")
	cfgPath := fs.String("config", "config.yaml", "the YAML configuration whose network the weights are for; it goes into the checkpoint")
	out := fs.String("o", "", "the checkpoint to write (replaced atomically)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *from == "" || *out == "" {
		fmt.Fprintln(stderr, "trainer import: -from and -o are required")
		return errUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	r, err := os.Open(*from)
	if err != nil {
		return fmt.Errorf("trainer import: %w", err)
	}
	defer r.Close()
	f, err := model.ImportSafetensors(r, cfg)
	if err != nil {
		return fmt.Errorf("trainer import: %s: %w", *from, err)
	}
	if err := checkpoint.Save(*out, f); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d parameters (stem %d; stages %s) from %s\n", *out, model.Capacity(cfg.Model), cfg.Model.StemChannels, model.TorchArch(cfg.Model), *from)
	return nil
}
