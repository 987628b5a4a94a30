package history

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
)

func sampleHistory() checkpoint.History {
	return checkpoint.History{
		Loss:     []float64{2.302585092994046, 1.5, 1.0 / 3, 0.1 + 0.2, 1e-300},
		ValLoss:  []float64{2.25, 1.625, 1e-7, 0.7, 123456789},
		TrainAcc: []float64{0.1, 0.3125, 0.5, 2.0 / 3, 1},
		ValAcc:   []float64{0.098, 0.29, 0.47, 0.6, math.SmallestNonzeroFloat64},
		LR:       []float64{0.004, 0.1, 0.05, 1e-6, 4e-7},
		Seconds:  []float64{12.345678901234567, 11.9, 12, 1e20, math.MaxFloat64},
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	for _, want := range []checkpoint.History{sampleHistory(), {Loss: []float64{math.Copysign(0, -1)}, ValLoss: []float64{0}, TrainAcc: []float64{0}, ValAcc: []float64{0}, LR: []float64{0}, Seconds: []float64{0}}} {
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
	if want := "epoch,loss,val_loss,train_acc,val_acc,lr,seconds\n1,-0,0,0,0,0,0\n"; string(b) != want {
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
	if err := Write(path, h); err == nil || !strings.Contains(err.Error(), "val_loss 5, train_acc 5, val_acc 5, lr 2") {
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

func TestReadHistoryErrors(t *testing.T) {
	const header = "epoch,loss,val_loss,train_acc,val_acc,lr,seconds\n"
	const legacy = "epoch,loss,train_acc,val_acc,lr,seconds\n"
	tests := []struct {
		name, content, want string
	}{
		{"empty", "", "missing header"},
		{"wrong header", "epoch,loss,val_loss,train_acc,valid_acc,lr,seconds\n", `line 1, column 5 (val_acc): header "valid_acc", want "val_acc"`},
		{"wrong legacy header", "epoch,loss,train_acc,valid_acc,lr,seconds\n", `line 1, column 4 (val_acc): header "valid_acc", want "val_acc"`},
		{"short header", "epoch,loss\n", "line 1: 2 fields, want 7 (or 6, without val_loss, in files of earlier versions)"},
		{"bad float", header + "1,2.5,2.6,0.1,0.2,0.1,3\n2,2.4,2.5,0.1,abc,0.1,3\n", `line 3, column 5 (val_acc): invalid number "abc"`},
		{"bad legacy float", legacy + "1,2.5,0.1,0.2,0.1,3\n2,2.4,0.1,abc,0.1,3\n", `line 3, column 4 (val_acc): invalid number "abc"`},
		{"bad val_loss", header + "1,2.5,x,0.1,0.2,0.1,3\n", `line 2, column 3 (val_loss): invalid number "x"`},
		{"bad seconds", header + "1,2.5,2.6,0.1,0.2,0.1,\n", `line 2, column 7 (seconds): invalid number ""`},
		{"out of range", header + "1,1e999,2.6,0.1,0.2,0.1,3\n", `line 2, column 2 (loss): invalid number "1e999"`},
		{"too few fields", header + "1,2.5,2.6,0.1,0.2,0.1\n", "line 2: 6 fields, want 7"},
		{"legacy line in a new file", header + "1,2.5,0.1,0.2,0.1,3\n", "line 2: 6 fields, want 7"},
		{"too many fields", legacy + "1,2.5,0.1,0.2,0.1,3,4\n", "line 2: 7 fields, want 6"},
		{"bad epoch", header + "one,2.5,2.6,0.1,0.2,0.1,3\n", `line 2, column 1 (epoch): invalid epoch "one"`},
		{"first epoch", header + "0,2.5,2.6,0.1,0.2,0.1,3\n", "line 2, column 1 (epoch): epoch 0, want 1"},
		{"skipped epoch", header + "1,2.5,2.6,0.1,0.2,0.1,3\n3,2.5,2.6,0.1,0.2,0.1,3\n", "line 3, column 1 (epoch): epoch 3, want 2"},
		{"repeated epoch", legacy + "1,2.5,0.1,0.2,0.1,3\n1,2.5,0.1,0.2,0.1,3\n", "line 3, column 1 (epoch): epoch 1, want 2"},
		{"bare quote", header + "1,2\"5,2.6,0.1,0.2,0.1,3\n", "line 2, byte 4"},
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

// TestReadLegacy reads a history.csv written before the validation loss
// was recorded (the first lines of experiments/e01-ref-30ep/history.csv):
// the values are read, the validation losses are NaN.
func TestReadLegacy(t *testing.T) {
	path := filepath.Join(t.TempDir(), File)
	content := "epoch,loss,train_acc,val_acc,lr,seconds\n" +
		"1,1.9170533031693304,0.327,0.344,0.008131277615380461,71.772777711\n" +
		"2,1.6015415020013979,0.425,0.436,0.019853047164724066,90.931217139\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := checkpoint.History{
		Loss:     []float64{1.9170533031693304, 1.6015415020013979},
		TrainAcc: []float64{0.327, 0.425},
		ValAcc:   []float64{0.344, 0.436},
		LR:       []float64{0.008131277615380461, 0.019853047164724066},
		Seconds:  []float64{71.772777711, 90.931217139},
	}
	if len(h.ValLoss) != 2 || !math.IsNaN(h.ValLoss[0]) || !math.IsNaN(h.ValLoss[1]) {
		t.Errorf("val_loss %v, want two NaN", h.ValLoss)
	}
	h.ValLoss = nil
	if !reflect.DeepEqual(h, want) {
		t.Errorf("read %+v\nwant %+v", h, want)
	}
}

// TestWriter feeds the Writer the epochs of a run resumed after a
// session that left a stale line behind: the first epoch of the session
// rewrites metrics.jsonl from the history, later ones append, and both
// files hold the history.
func TestWriter(t *testing.T) {
	dir := t.TempDir()
	metrics := filepath.Join(dir, MetricsFile)
	if err := os.WriteFile(metrics, []byte("{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	full := checkpoint.History{
		Loss:     []float64{2.5, 1.25, 1.0 / 3},
		ValLoss:  []float64{math.NaN(), 1.5, 1e-7},
		TrainAcc: []float64{0.25, 0.5, 0.625},
		ValAcc:   []float64{0.3, 0.25, 0.75},
		LR:       []float64{0.1, 0.05, 4e-7},
		Seconds:  []float64{30, 29.5, 31.25},
	}
	prefix := func(n int) checkpoint.History {
		return checkpoint.History{Loss: full.Loss[:n], ValLoss: full.ValLoss[:n], TrainAcc: full.TrainAcc[:n],
			ValAcc: full.ValAcc[:n], LR: full.LR[:n], Seconds: full.Seconds[:n]}
	}
	w := &Writer{Dir: dir}
	for n := 2; n <= 3; n++ {
		if err := w.EndEpoch(&trainer.EpochEnd{Epoch: n, History: prefix(n)}); err != nil {
			t.Fatal(err)
		}
	}
	want := `{"epoch":1,"loss":2.5,"val_loss":null,"train_acc":0.25,"val_acc":0.3,"lr":0.1,"seconds":30,"best":true}
{"epoch":2,"loss":1.25,"val_loss":1.5,"train_acc":0.5,"val_acc":0.25,"lr":0.05,"seconds":29.5,"best":false}
{"epoch":3,"loss":0.3333333333333333,"val_loss":1e-07,"train_acc":0.625,"val_acc":0.75,"lr":4e-07,"seconds":31.25,"best":true}
`
	b, err := os.ReadFile(metrics)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want {
		t.Errorf("metrics.jsonl:\n%s\nwant\n%s", b, want)
	}
	h, err := Read(filepath.Join(dir, File))
	if err != nil {
		t.Fatal(err)
	}
	if h.Len() != 3 || h.Loss[2] != full.Loss[2] || !math.IsNaN(h.ValLoss[0]) || h.ValLoss[2] != 1e-7 {
		t.Errorf("history.csv holds %+v", h)
	}
	// Every line is a JSON object.
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || len(rec) != 8 {
			t.Errorf("line %d %q: %v, %d keys", i+1, line, err, len(rec))
		}
	}
}
