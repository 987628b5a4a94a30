package model_test

import (
	"bytes"
	"fmt"
	"log"
	"reflect"

	"google.golang.org/protobuf/proto"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/model/onnx/onnxpb"
	"github.com/cifar-resnet/trainer/model/safetensors"
)

// untrained returns a checkpoint of the untrained reference network; in
// use it is checkpoint.Load("models/best.ckpt").
func untrained() *checkpoint.File {
	cfg := config.Default()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		log.Fatal(err)
	}
	return &checkpoint.File{Config: cfg, Params: m.ParamTensors(), Stats: m.StatTensors()}
}

// ExportSafetensors writes the state_dict of the PyTorch twin; in Python,
// after building torch_ref.ResNet(parse_arch(meta["arch"]),
// int(meta["stem"])), net.load_state_dict(...) takes it unchanged.
func ExampleExportSafetensors() {
	f := untrained()
	var buf bytes.Buffer // in use, an *os.File
	if err := model.ExportSafetensors(&buf, f); err != nil {
		log.Fatal(err)
	}

	st, err := safetensors.Decode(buf.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(st.Tensors), "tensors; arch", st.Metadata["arch"], "stem", st.Metadata["stem"])
	for _, t := range st.Tensors[:6] {
		fmt.Println(t.Name, t.DType, t.Shape)
	}
	// Output:
	// 62 tensors; arch 16x2/1,32x2/2 stem 16
	// stem.0.weight F32 [16 3 3 3]
	// stem.1.weight F32 [16]
	// stem.1.bias F32 [16]
	// stem.1.running_mean F32 [16]
	// stem.1.running_var F32 [16]
	// stem.1.num_batches_tracked I64 []
}

// ImportSafetensors turns PyTorch weights into a checkpoint for the
// network of a configuration; here the weights come from
// ExportSafetensors, so they come back bit for bit.
func ExampleImportSafetensors() {
	f := untrained()
	var buf bytes.Buffer
	if err := model.ExportSafetensors(&buf, f); err != nil {
		log.Fatal(err)
	}

	cfg := config.Default() // in use, config.Load("arch.yaml")
	g, err := model.ImportSafetensors(&buf, cfg)
	if err != nil {
		log.Fatal(err)
	}
	// checkpoint.Save("imported.ckpt", g) writes it for trainer test,
	// model.Load and model.init_from.
	c, err := model.FromCheckpoint(g)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Model.Capacity(), "parameters; same weights:", reflect.DeepEqual(g.Params, f.Params), reflect.DeepEqual(g.Stats, f.Stats))
	// Output: 43226 parameters; same weights: true true
}

// ExportONNX writes the network for ONNX Runtime and other ONNX tools.
func ExampleExportONNX() {
	f := untrained()
	var buf bytes.Buffer // in use, an *os.File
	if err := model.ExportONNX(&buf, f); err != nil {
		log.Fatal(err)
	}

	var m onnxpb.ModelProto
	if err := proto.Unmarshal(buf.Bytes(), &m); err != nil {
		log.Fatal(err)
	}
	g := m.GetGraph()
	fmt.Println("opset", m.GetOpsetImport()[0].GetVersion(), "input", g.GetInput()[0].GetName(), "output", g.GetOutput()[0].GetName())
	fmt.Println(len(g.GetNode()), "nodes,", len(g.GetInitializer()), "initializers, first", g.GetNode()[0].GetOpType(), g.GetNode()[1].GetOpType(), g.GetNode()[2].GetOpType())
	// Output:
	// opset 13 input images output logits
	// 36 nodes, 52 initializers, first Conv BatchNormalization Relu
}
