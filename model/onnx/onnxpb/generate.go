// Package onnxpb holds the Go types of the ONNX protobuf schema, generated
// by protoc-gen-go from onnx.proto (the file shipped with ONNX 1.12, IR
// version 8, as Debian's python3-onnx installs it). Regenerate with
//
//	go generate ./model/onnx/onnxpb
//
// which needs protoc (Debian's protobuf-compiler) and protoc-gen-go of the
// version of google.golang.org/protobuf in go.mod on the PATH:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.28.0
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/cifar-resnet/trainer/model/onnx/onnxpb onnx.proto
