package history

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/model/checkpoint"
)

func sampleHistory() checkpoint.History {
	return checkpoint.History{
		Loss:     []float64{2.302585092994046, 1.5, 1.0 / 3, 0.1 + 0.2, 1e-300},
		TrainAcc: []float64{0.1, 0.3125, 0.5, 2.0 / 3, 1},
		ValAcc:   []float64{0.098, 0.29, 0.47, 0.6, math.SmallestNonzeroFloat64},
		LR:       []float64{0.004, 0.1, 0.05, 1e-6, 4e-7},
		Seconds:  []float64{12.345678901234567, 11.9, 12, 1e20, math.MaxFloat64},
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	for _, want := range []checkpoint.History{sampleHistory(), {Loss: []float64{math.Copysign(0, -1)}, TrainAcc: []float64{0}, ValAcc: []float64{0}, LR: []float64{0}, Seconds: []float64{0}}} {
		if err := Write(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := Read(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\ngot  %v\nwant %v", got, want)
		}
		for i := range want.Loss {
			if math.Float64bits(got.Loss[i]) != math.Float64bits(want.Loss[i]) {
				t.Errorf("loss %d: bits differ", i)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "epoch,loss,train_acc,val_acc,lr,seconds\n1,-0,0,0,0,0\n"; string(b) != want {
		t.Errorf("file is %q, want %q", b, want)
	}
}

func TestHistoryEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	if err := Write(path, checkpoint.History{}); err != nil {
		t.Fatal(err)
	}
	h, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != 0 {
		t.Errorf("history has %d epochs, want 0", h.Len())
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	h := sampleHistory()
	h.LR = h.LR[:2]
	path := filepath.Join(dir, File)
	if err := Write(path, h); err == nil || !strings.Contains(err.Error(), "lr 2") {
		t.Errorf("Write(ragged) = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("Write(ragged) created the file")
	}
	bad := filepath.Join(dir, "missing", File)
	if err := Write(bad, sampleHistory()); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Write into a missing directory = %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	const header = "epoch,loss,train_acc,val_acc,lr,seconds\n"
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", "missing header"},
		{"wrong header", "epoch,loss,train_acc,valid_acc,lr,seconds\n", `line 1, column 4 (val_acc): header "valid_acc", want "val_acc"`},
		{"short header", "epoch,loss\n", "line 1: 2 fields, want 6"},
		{"bad float", header + "1,2.5,0.1,0.2,0.1,3\n2,2.4,0.1,abc,0.1,3\n", `line 3, column 4 (val_acc): invalid number "abc"`},
		{"bad seconds", header + "1,2.5,0.1,0.2,0.1,\n", `line 2, column 6 (seconds): invalid number ""`},
		{"out of range", header + "1,1e999,0.1,0.2,0.1,3\n", `line 2, column 2 (loss): invalid number "1e999"`},
		{"too few fields", header + "1,2.5,0.1,0.2,0.1\n", "line 2: 5 fields, want 6"},
		{"too many fields", header + "1,2.5,0.1,0.2,0.1,3,4\n", "line 2: 7 fields, want 6"},
		{"bad epoch", header + "one,2.5,0.1,0.2,0.1,3\n", `line 2, column 1 (epoch): invalid epoch "one"`},
		{"first epoch", header + "0,2.5,0.1,0.2,0.1,3\n", "line 2, column 1 (epoch): epoch 0, want 1"},
		{"skipped epoch", header + "1,2.5,0.1,0.2,0.1,3\n3,2.5,0.1,0.2,0.1,3\n", "line 3, column 1 (epoch): epoch 3, want 2"},
		{"repeated epoch", header + "1,2.5,0.1,0.2,0.1,3\n1,2.5,0.1,0.2,0.1,3\n", "line 3, column 1 (epoch): epoch 1, want 2"},
		{"bare quote", header + "1,2\"5,0.1,0.2,0.1,3\n", "line 2, byte 4"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Read(path)
			if err == nil {
				t.Fatal("Read succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Read = %v\nwant the path and %q", err, tt.want)
			}
		})
	}
	missing := filepath.Join(dir, "nope.csv")
	if _, err := Read(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Read(missing) = %v", err)
	}
}
