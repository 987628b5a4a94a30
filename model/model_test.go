package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
)

func reference() config.Model { return config.Default().Model }

func TestCapacityReference(t *testing.T) {
	cfg := reference()
	if got := Capacity(cfg); got != 43226 {
		t.Fatalf("Capacity(reference) = %d, want 43226 (PyTorch's count)", got)
	}
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Capacity(); got != 43226 {
		t.Fatalf("model.Capacity() = %d, want 43226", got)
	}
	// The summary rows add up to the count of the graph's learnable nodes.
	net, err := m.Build(2, true)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	fromGraph := 0
	for _, n := range net.Graph.AllNodes() {
		if m.Param(n.Name()) != nil {
			fromGraph += n.Shape().TotalSize()
		}
	}
	rows := 0
	for _, l := range m.Layers {
		rows += l.Params
	}
	if fromGraph != 43226 || rows != 43226 {
		t.Fatalf("graph learnable nodes hold %d parameters, summary rows %d; want 43226", fromGraph, rows)
	}
}

func TestCapacityLimit(t *testing.T) {
	cfg := reference()
	// stem 16; 16x2; 48x2 stride 2 → over 60,000 parameters.
	cfg.Stages[1].Channels = 48
	n := Capacity(cfg)
	if n <= 60000 {
		t.Fatalf("test config has %d parameters, want > 60000", n)
	}
	_, err := New(cfg, 1)
	if err == nil {
		t.Fatal("New accepted a network over model.max_params")
	}
	for _, want := range []string{"50000", "max_params", strconv.Itoa(n)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// fill sets xs to uniform values in [-1, 1).
func fill(rng *rand.Rand, xs []float64) {
	for i := range xs {
		xs[i] = 2*rng.Float64() - 1
	}
}

// testConfig is the model configuration of a test: stem channels and
// stages, with the settings the tests share (at most 50,000 parameters,
// batch norm momentum 0.1 and epsilon 1e-5) and the rest zero.
func testConfig(stem int, stages []config.Stage) config.Model {
	return config.Model{StemChannels: stem, Stages: stages, MaxParams: 50000, BNMomentum: 0.1, BNEpsilon: 1e-5}
}

// checkNetGradient compares the gradient of the training loss of a float64
// net with central finite differences for every parameter element.
func checkNetGradient(t *testing.T, cfg config.Model) {
	t.Helper()
	checkNetGradientDistill(t, cfg, 0, 0)
}

// checkNetGradientDistill is checkNetGradient for a distillation net with
// the given weight and temperature (a plain training net for temperature
// 0), with random teacher distributions.
func checkNetGradientDistill(t *testing.T, cfg config.Model, weight, temperature float64) {
	t.Helper()
	// 8×8 images: fewer ReLU inputs lie within h of their kink, where
	// finite differences are wrong.
	m := smallModel(t, cfg, 3)
	rng := rand.New(rand.NewPCG(5, 6))
	// Random γ, β so that every term of the batch norm gradient matters.
	for _, p := range m.Params {
		if !p.Decay {
			fill(rng, p.Value.Data().([]float64))
		}
	}
	net, err := m.Build(4, true)
	if temperature > 0 {
		net, err = m.BuildDistillation(4, weight, temperature)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	fill(rng, net.x.Data().([]float64))
	if err := net.SetLabels([]int{1, 7, 3, 1}, 0.1); err != nil {
		t.Fatal(err)
	}
	if temperature > 0 {
		if err := net.SetTeacherProbs(randomProbs(rng, 4)); err != nil {
			t.Fatal(err)
		}
	}
	loss := func() float64 {
		t.Helper()
		if err := net.Run(); err != nil {
			t.Fatal(err)
		}
		return net.LossValue()
	}
	loss()
	analytic := make([][]float64, len(m.Params))
	for i := range m.Params {
		analytic[i] = append([]float64(nil), net.Grads[i].Value().Data().([]float64)...)
	}
	// The fourth-order central difference
	//   (-f(x+2h) + 8f(x+h) - 8f(x-h) + f(x-2h)) / 12h
	// keeps both truncation (O(h⁴)) and rounding (O(ε/h)) error near
	// 1e-12, which the smallest weight gradients (~1e-6) need.
	const h = 1e-4
	worst := 0.0
	for i, p := range m.Params {
		x := p.Value.Data().([]float64)
		for j := range x {
			orig := x[j]
			at := func(d float64) float64 {
				x[j] = orig + d
				return loss()
			}
			num := (at(h) - at(-h)) / (2 * h)
			x[j] = orig
			a := analytic[i][j]
			rel := math.Abs(a-num) / math.Max(math.Abs(a)+math.Abs(num), 1e-8)
			worst = math.Max(worst, rel)
			if rel > 1e-5 {
				t.Errorf("%s[%d]: analytic %.10g, numeric %.10g (relative error %.3g)", p.Name, j, a, num, rel)
			}
		}
	}
	t.Logf("%d parameters checked, max relative error %.3g", m.Capacity(), worst)
}

func TestGradientIdentityBlock(t *testing.T) {
	checkNetGradient(t, testConfig(3, []config.Stage{{Channels: 3, Blocks: 1, Stride: 1}}))
}

func TestGradientProjectionBlock(t *testing.T) {
	checkNetGradient(t, testConfig(2, []config.Stage{{Channels: 4, Blocks: 1, Stride: 2}}))
}

func TestGradientResNet(t *testing.T) {
	checkNetGradient(t, testConfig(2, []config.Stage{
		{Channels: 2, Blocks: 2, Stride: 1},
		{Channels: 3, Blocks: 1, Stride: 2},
	}))
}

// smallModel returns a float64 model of cfg, initialised from seed, for
// 8×8 images.
func smallModel(t *testing.T, cfg config.Model, seed int64) *Model {
	t.Helper()
	m, err := newModel(cfg, seed, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	m.size = 8
	return m
}

// randomStats sets the running statistics of m to random values: means
// around 0, variances in [0.5, 1.5).
func randomStats(rng *rand.Rand, m *Model) {
	for _, bn := range m.BNs {
		for i := range bn.State.Mean {
			bn.State.Mean[i] = float32(rng.NormFloat64() * 0.1)
			bn.State.Var[i] = float32(0.5 + rng.Float64())
		}
	}
}

// TestPerSampleIndependence runs the reference net in evaluation mode on
// the same images in a batch of 64 and one by one.
func TestPerSampleIndependence(t *testing.T) {
	m, err := New(reference(), 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 9))
	randomStats(rng, m)
	big, err := m.Build(64, false)
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	one, err := m.Build(1, false)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	x := big.Input()
	for i := range x {
		x[i] = float32(2*rng.Float64() - 1)
	}
	if err := big.Run(); err != nil {
		t.Fatal(err)
	}
	all := append([]float32(nil), big.LogitsValue()...)
	for n := range 64 {
		copy(one.Input(), x[n*dataset.ImageSize:(n+1)*dataset.ImageSize])
		if err := one.Run(); err != nil {
			t.Fatal(err)
		}
		got := one.LogitsValue()
		for k := range dataset.NumClasses {
			if got[k] != all[n*dataset.NumClasses+k] {
				t.Fatalf("image %d logit %d: %v alone, %v in a batch of 64", n, k, got[k], all[n*dataset.NumClasses+k])
			}
		}
	}
}

// TestZeroInitResidual checks that zero_init_residual starts exactly the
// γ of each block's second batch norm at 0, and that the network then
// computes what its skip paths alone do: a net with two identity blocks
// before a projection block gives the logits of the net with only the
// projection block and the same stem, projection and dense weights.
func TestZeroInitResidual(t *testing.T) {
	full := testConfig(4, []config.Stage{{Channels: 4, Blocks: 2, Stride: 1}, {Channels: 6, Blocks: 1, Stride: 2}})
	full.ZeroInitResidual = true
	short := full
	short.Stages = full.Stages[1:]
	a, err := New(full, 1)
	if err != nil {
		t.Fatal(err)
	}
	zeroed := 0
	for _, p := range a.Params {
		if !strings.HasSuffix(p.Name, ".gamma") {
			continue
		}
		want := float32(1)
		if strings.HasSuffix(p.Name, ".bn2.gamma") {
			want = 0
			zeroed++
		}
		for _, v := range p.Value.Data().([]float32) {
			if v != want {
				t.Fatalf("%s holds %v, want %v", p.Name, v, want)
			}
		}
	}
	if zeroed != 3 {
		t.Fatalf("%d second batch norms, want 3", zeroed)
	}
	logits := func(m *Model, x []float32) []float32 {
		c := NewClassifier(m, config.Default().Data.Normalize)
		defer c.Close()
		z, err := c.Logits(x)
		if err != nil {
			t.Fatal(err)
		}
		return z
	}
	rng := rand.New(rand.NewPCG(8, 9))
	x := make([]float32, 3*dataset.ImageSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, zero := range []bool{true, false} {
		short.ZeroInitResidual = zero
		b, err := New(short, 2)
		if err != nil {
			t.Fatal(err)
		}
		// b's only block is a's third; every other weight has its name.
		for _, p := range b.Params {
			name := strings.Replace(p.Name, "stage1.", "stage2.", 1)
			if name == "stage2.block1.bn2.gamma" {
				continue
			}
			copy(p.Value.Data().([]float32), a.Param(name).Value.Data().([]float32))
		}
		za, zb := logits(a, x), logits(b, x)
		same := true
		for i := range za {
			if math.Abs(float64(za[i]-zb[i])) > 1e-5 {
				same = false
			}
		}
		if zero && !same {
			t.Fatalf("with zero-initialised residual branches the logits %v differ from the skip paths' %v", za, zb)
		}
		if !zero && same {
			t.Fatal("the short net's own residual branch did not change its logits: the test cannot tell")
		}
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A stage 2^32 channels wide with no limit on the parameters used to wrap
// the count around and kill the process allocating the weights; New must
// refuse it, naming the keys, before allocating anything.
func TestNewRefusesHugeNetwork(t *testing.T) {
	cfg := reference()
	cfg.MaxParams = math.MaxInt64
	cfg.Stages[0].Channels = 4294967296
	var err error
	bytes := allocated(func() { _, err = New(cfg, 1) })
	want := "model: config: 2 problems:\n" +
		"\tmodel.stages[0].channels: must be at most 2048, got 4294967296\n" +
		"\tmodel.max_params: must be at most 100000000, got 9223372036854775807"
	if err == nil || err.Error() != want {
		t.Errorf("New: err = %v\nwant %s", err, want)
	}
	if bytes > 1<<20 {
		t.Errorf("New allocated %d bytes before refusing", bytes)
	}
	if n := Capacity(cfg); n != -1 {
		t.Errorf("Capacity = %d, want -1 for an invalid configuration", n)
	}
}

// A network within every width and block bound but over max_params is
// refused before its weights are allocated.
func TestNewRefusesOverMaxParamsBeforeAllocating(t *testing.T) {
	cfg := reference()
	cfg.MaxParams = 100_000_000
	cfg.Stages = []config.Stage{{Channels: 2048, Blocks: 3, Stride: 1}}
	// stem 3·3·3·16 + 2·16; first block 3·3·16·2048 + 2·2048 +
	// 3·3·2048·2048 + 2·2048 + 1·1·16·2048 + 2·2048; two more blocks
	// 2·(3·3·2048·2048 + 2·2048) each; dense (2048+1)·10.
	const want = 464 + 38088704 + 2*75505664 + 20490
	if n := Capacity(cfg); n != want {
		t.Fatalf("Capacity = %d, want %d", n, want)
	}
	var err error
	bytes := allocated(func() { _, err = New(cfg, 1) })
	if err == nil || err.Error() != "model: the network has 189120986 learnable parameters, over the limit model.max_params = 100000000" {
		t.Errorf("New: err = %v", err)
	}
	if bytes > 1<<20 {
		t.Errorf("New allocated %d bytes before refusing", bytes)
	}
}

// Parameter counts saturate at math.MaxInt instead of wrapping around.
func TestCountsSaturate(t *testing.T) {
	for _, tt := range []struct {
		got, want int
	}{
		{mulSat(3, 3, 16, 1<<32), 618475290624},
		{mulSat(3, 3, 1<<32, 1<<32), math.MaxInt},
		{mulSat(0, math.MaxInt, math.MaxInt), 0},
		{mulSat(), 1},
		{addSat(math.MaxInt-1, 1), math.MaxInt},
		{addSat(math.MaxInt-1, 2), math.MaxInt},
		{addSat(2, 3), 5},
	} {
		if tt.got != tt.want {
			t.Errorf("got %d, want %d", tt.got, tt.want)
		}
	}
	// layers counts the layers of a network too large to build.
	layers := describe(config.Model{StemChannels: 16, Stages: []config.Stage{{Channels: 1 << 32, Blocks: 1, Stride: 1}}}).layers()
	got := map[string]int{}
	for _, l := range layers {
		got[l.Name] = l.Params
	}
	if got["stage1.block1.conv1"] != 618475290624 || got["stage1.block1.conv2"] != math.MaxInt || got["fc"] != 42949672970 {
		t.Errorf("layers: conv1 %d, conv2 %d, fc %d; want 618475290624, MaxInt, 42949672970",
			got["stage1.block1.conv1"], got["stage1.block1.conv2"], got["fc"])
	}
}
