package model_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
)

// Example loads a checkpoint and classifies two images given as raw bytes
// in the CIFAR-10 layout. Here the checkpoint is made on the spot from an
// untrained network; in use it is models/best.ckpt or a run's best.ckpt.
func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "best.ckpt")
	if err := checkpoint.Save(path, &checkpoint.File{Config: cfg, Params: m.ParamTensors(), Stats: m.StatTensors()}); err != nil {
		log.Fatal(err)
	}

	c, err := model.Load(path)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	pixels := make([]byte, 2*dataset.ImageSize) // two black images
	classes, probs, err := c.PredictPixels(pixels)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Model.Capacity(), "parameters;", len(classes), "predictions of", len(probs[0]), "probabilities each")
	// Output: 43226 parameters; 2 predictions of 10 probabilities each
}
