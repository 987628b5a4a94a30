package leaderboard

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer/history"
)

// entries returns four runs of the reference network (43,226
// parameters): t2 and t1 tie at 50%, t3 reaches 40% at its first epoch,
// t0 has not finished an epoch.
func entries() []Entry {
	cfg := config.Default()
	cfg.Solver.Epochs = 2
	h := func(val, loss, secs []float64) checkpoint.History {
		return checkpoint.History{Loss: loss, ValLoss: loss, TrainAcc: val, ValAcc: val, LR: loss, Seconds: secs}
	}
	return []Entry{
		{Name: "t3", State: "done", Overrides: []string{"solver.optimizer.lr=0.2"}, Config: cfg, History: h([]float64{0.4, 0.35}, []float64{2, 1.5}, []float64{60, 61.5})},
		{Name: "t0", State: "pending", Overrides: []string{"seed=3"}, Config: cfg},
		{Name: "t2", State: "done", Overrides: []string{"model.stages=[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}]", "seed=1"}, Config: cfg, History: h([]float64{0.3, 0.5}, []float64{2, 1.25}, []float64{30, 30})},
		{Name: "t1", State: "running|x", Config: cfg, History: h([]float64{0.5}, []float64{1.125}, []float64{3600})},
		{Name: "t4", State: "done", Config: cfg, History: h([]float64{0.464, 0.412}, []float64{2, 1.5}, []float64{1, 1})},
	}
}

func TestRankAndMarkdown(t *testing.T) {
	es := entries()
	Rank(es)
	want := `| trial | state | overrides | params | epochs | best val acc (epoch) | final loss | wall time |
|---|---|---|---:|---:|---:|---:|---:|
| t1 | running\|x |  | 43226 | 1 of 2 | 50.00% (1) | 1.1250 | 1.0 h |
| t2 | done | model.stages=[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}], seed=1 | 43226 | 2 | 50.00% (2) | 1.2500 | 1.0 min |
| t4 | done |  | 43226 | 2 | 46.40% (1) | 1.5000 | 2 s |
| t3 | done | solver.optimizer.lr=0.2 | 43226 | 2 | 40.00% (1) | 1.5000 | 2.0 min |
| t0 | pending | seed=3 | 43226 | 0 of 2 | – | – | 0 s |
`
	if got := Markdown(es, Columns); got != want {
		t.Errorf("Markdown:\n%s\nwant\n%s", got, want)
	}
	SortByName(es)
	if es[0].Name != "t0" || es[4].Name != "t4" {
		t.Errorf("SortByName: %s ... %s", es[0].Name, es[3].Name)
	}
}

func TestCSVAndJSON(t *testing.T) {
	es := entries()
	Rank(es)
	want := `rank,trial,state,overrides,params,epochs,best_val_acc,best_epoch,final_loss,wall_seconds
1,t1,running|x,,43226,1,50,1,1.125,3600.000
2,t2,done,"model.stages=[{channels: 16, blocks: 2, stride: 1}, {channels: 32, blocks: 2, stride: 2}]; seed=1",43226,2,50,2,1.25,60.000
3,t4,done,,43226,2,46.4,1,1.5,2.000
4,t3,done,solver.optimizer.lr=0.2,43226,2,40,1,1.5,121.500
5,t0,pending,seed=3,43226,0,,,,0.000
`
	if got := string(CSV(es)); got != want {
		t.Errorf("CSV:\n%s\nwant\n%s", got, want)
	}
	js, err := JSON(es)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(js, &recs); err != nil {
		t.Fatal(err)
	}
	last, err := json.Marshal(recs[4])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"best_epoch":null,"best_val_acc":null,"epochs":0,"final_loss":null,"overrides":["seed=3"],"params":43226,"rank":5,"state":"pending","trial":"t0","val_acc":[],"wall_seconds":0}`; string(last) != want {
		t.Errorf("JSON record of a run without epochs:\n%s\nwant\n%s", last, want)
	}
	if recs[3]["best_val_acc"] != 40.0 || len(recs[3]["val_acc"].([]any)) != 2 || recs[3]["val_acc"].([]any)[1] != 35.0 {
		t.Errorf("JSON record of t3: %v", recs[3])
	}
	if v := recs[2]["val_acc"].([]any); recs[2]["best_val_acc"] != 46.4 || v[0] != 46.4 || v[1] != 41.2 {
		t.Errorf("JSON record of t4: %v, want accuracies rounded to 46.4 and 41.2", recs[2])
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, "sweep s", entries()); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil || !strings.HasPrefix(string(md), "# sweep s\n\nRanked by best validation accuracy.\n\n| trial |") || !strings.Contains(string(md), "| t1 |") {
		t.Errorf("%s: %v\n%s", MarkdownFile, err, md)
	}
	for _, f := range []string{CSVFile, JSONFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	f, err := os.Open(filepath.Join(dir, PlotFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 800 || b.Dy() != 600 {
		t.Errorf("plot %dx%d, want 800x600", b.Dx(), b.Dy())
	}
	// No plot while no run has an epoch; the tables are written.
	empty := t.TempDir()
	if err := Write(empty, "s", entries()[1:2]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(empty, PlotFile)); err == nil {
		t.Error("a plot was drawn without any epoch")
	}
	if err := PlotValidation(filepath.Join(empty, "x.png"), entries()[1:2], ""); err == nil || !strings.Contains(err.Error(), "no run has finished an epoch") {
		t.Errorf("PlotValidation without epochs: %v", err)
	}
}

func TestReadRuns(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Model.Stages = []config.Stage{{Channels: 8, Blocks: 1, Stride: 1}}
	yml, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "a"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "config.yaml"), yml, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "b", "note.txt"), []byte(" one\n two  "), 0o644); err != nil {
		t.Fatal(err)
	}
	h := checkpoint.History{Loss: []float64{1}, ValLoss: []float64{1.5}, TrainAcc: []float64{0.5}, ValAcc: []float64{0.25}, LR: []float64{0.1}, Seconds: []float64{2}}
	if err := history.Write(filepath.Join(dir, "b", history.File), h); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := ReadRuns(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Name != "a" || es[0].Epochs() != 0 || es[1].Note != "one two" || es[1].Epochs() != 1 || es[1].Params() != 3*3*3*16+2*16+3*3*16*8+3*3*8*8+4*8+1*1*16*8+2*8+9*10 {
		t.Errorf("ReadRuns = %+v", es)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "config.yaml"), []byte("seed: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRuns(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "a", "config.yaml")+":1: seed") {
		t.Errorf("a bad config.yaml: %v", err)
	}
}

func TestDescriptions(t *testing.T) {
	c := config.Default()
	c.Model.ZeroInitResidual = true
	c.Solver.LabelSmoothing = 0.1
	c.Solver.Distillation.Teachers = []string{"experiments/t01/best.ckpt", "x/t02/best.ckpt"}
	c.Data.Augment = config.Augment{Cutout: 8}
	for got, want := range map[string]string{
		Architecture(c.Model):          "stem 16; 16×2, 32×2/2; residual γ from 0",
		Recipe(c.Solver):               "sgd+nesterov 0.9 lr 0.1, wd 0.0005, onecycle, batch 128, smoothing 0.1, distilled from t01+t02 (weight 0.9, T 4)",
		Augmentation(c.Data.Augment):   "cutout 8",
		Augmentation(config.Augment{}): "none",
		WallTime(59.4):                 "59 s",
		WallTime(90):                   "1.5 min",
		WallTime(5400):                 "1.5 h",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	var b bytes.Buffer
	b.WriteString(Markdown(nil, Columns[:1]))
	if b.String() != "| trial |\n|---|\n" {
		t.Errorf("empty table %q", b.String())
	}
}
