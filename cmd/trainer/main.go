// Command trainer trains the CIFAR-10 residual network described by a YAML
// configuration, and inspects and evaluates the results.
//
// Usage:
//
//	trainer [-config config.yaml] [-set key=value]... [-resume CKPT] [-force]
//	                                               train (the main job)
//	trainer summary [-config config.yaml]          print the layers and parameter count
//	trainer test -checkpoint CKPT -data PATH [-split test|val|train]
//	                                               evaluate a checkpoint
//	trainer plot -run DIR                          draw DIR/training.png from DIR/history.csv
//	trainer sweep -spec sweep.yaml [-jobs N] [-executor local|slurm] [-status]
//	                                               run a sweep of trials
//	trainer export -checkpoint CKPT -format onnx|safetensors -o FILE
//	                                               write the network for ONNX Runtime or PyTorch
//	trainer import -from FILE.safetensors -config ARCH.yaml -o CKPT
//	                                               turn PyTorch weights into a checkpoint
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/cheggaaa/pb/v3"
	"github.com/mattn/go-isatty"

	"github.com/cifar-resnet/trainer/config"
	"github.com/cifar-resnet/trainer/dataset"
	"github.com/cifar-resnet/trainer/model"
	"github.com/cifar-resnet/trainer/model/checkpoint"
	"github.com/cifar-resnet/trainer/trainer"
	"github.com/cifar-resnet/trainer/trainer/history"
	"github.com/cifar-resnet/trainer/trainer/plot"
	"github.com/cifar-resnet/trainer/trainer/progress"
	"github.com/cifar-resnet/trainer/trainer/rundir"
	"github.com/cifar-resnet/trainer/trainer/sweep"
)

func main() {
	wd, _ := os.Getwd()
	bi, _ := debug.ReadBuildInfo()
	invocation = invocationOf(os.Args[0], bi, wd)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// run executes one command line and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "train"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "train":
		return train(args, stdout, stderr)
	case "summary":
		err = summary(args, stdout, stderr)
	case "test":
		err = test(args, stdout, stderr)
	case "plot":
		err = plotRun(args, stdout, stderr)
	case "sweep":
		return sweepCmd(args, stdout, stderr)
	case sweep.TrialCommand:
		return sweepTrial(args, stdout, stderr)
	case "export", "import":
		err = interop(cmd, args, stdout, stderr)
	case "help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "trainer: unknown command %q\n", cmd)
		usage(stderr)
		return exitUsage
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, err)
		return exitError
	}
	return exitOK
}

// errUsage marks an error whose message the flag package already printed.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprint(w, `usage:
  trainer [-config config.yaml] [-set key=value]... [-resume CKPT] [-force]
                                                 train the network of the configuration
  trainer summary [-config config.yaml] [-set key=value]...
                                                 print the layers and the parameter count
  trainer test -checkpoint CKPT -data PATH [-split test|val|train]
                                                 evaluate a checkpoint
  trainer plot -run DIR                          draw DIR/training.png from DIR/history.csv
  trainer sweep -spec sweep.yaml [-jobs N] [-executor local|slurm] [-status]
                                                 run the trials of a sweep, locally or on Slurm
  trainer export -checkpoint CKPT -format onnx|safetensors -o FILE
                                                 write the network for ONNX Runtime or PyTorch
  trainer import -from FILE.safetensors -config ARCH.yaml -o CKPT
                                                 turn PyTorch weights into a checkpoint
Run "trainer COMMAND -h" for the flags of a command ("trainer -h" for training's).
`)
}

// overrideFlags collects the repeatable -set key=value flag.
type overrideFlags []config.Override

func (o *overrideFlags) String() string {
	s := make([]string, len(*o))
	for i, x := range *o {
		s[i] = x.String()
	}
	return strings.Join(s, " ")
}

func (o *overrideFlags) Set(s string) error {
	x, err := config.ParseOverride(s)
	if err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "config: "+config.OverrideFlag+" "+s+": "))
	}
	*o = append(*o, x)
	return nil
}

// setUsage documents -set.
const setUsage = "set a key of the configuration, as a dotted YAML path and a YAML value (repeatable), e.g. -set solver.epochs=3 -set model.stages='[{channels: 16, blocks: 2, stride: 1}]'; checked like the file and recorded in the run's config.yaml"

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, turning flag errors into errUsage and refusing
// positional arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "trainer %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return errUsage
	}
	return nil
}

// trainOptions are the flags of a training run.
type trainOptions struct {
	cfgPath       string
	sets          []config.Override
	resume        string
	allowSchedule bool
	force         bool
	// args are the command line's flags, for the resume command.
	args []string
}

func train(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("train", stderr)
	fs.Usage = func() {
		usage(fs.Output())
		fmt.Fprintln(fs.Output(), "\nflags of training:")
		fs.PrintDefaults()
	}
	opts := trainOptions{args: args}
	fs.StringVar(&opts.cfgPath, "config", "config.yaml", "the YAML configuration of the run")
	fs.Var((*overrideFlags)(&opts.sets), "set", setUsage)
	fs.StringVar(&opts.resume, "resume", "", "continue training from this checkpoint (e.g. runs/default/last.ckpt)")
	fs.BoolVar(&opts.force, "force", false, "start afresh in a run folder that holds a run, replacing its checkpoints, history and plot")
	fs.BoolVar(&opts.allowSchedule, "allow-schedule-change", false, "with -resume: accept a configuration whose solver.epochs, learning rate or schedule differ from the checkpoint's, recording each change in the run's checkpoints")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	fs.Func("device", "where to compute: "+config.DeviceUsage+"; the same as -set device=...", func(v string) error {
		opts.sets = append(opts.sets, config.Override{Path: "device", Value: v})
		return nil
	})
	if err := parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if opts.allowSchedule && opts.resume == "" {
		fmt.Fprintln(stderr, "trainer: -allow-schedule-change needs -resume")
		return exitUsage
	}
	if opts.force && opts.resume != "" {
		fmt.Fprintln(stderr, "trainer: -force starts afresh; it cannot go with -resume")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "trainer: %v\n", err)
			return exitError
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "trainer: %v\n", err)
			return exitError
		}
		defer pprof.StopCPUProfile()
	}
	err := trainRun(ctx, opts, stdout, stderr)
	switch {
	case errors.Is(err, trainer.ErrInterrupted):
		last := filepath.Join(runDir(opts.cfgPath, opts.sets), trainer.LastCheckpoint)
		fmt.Fprintf(stderr, "\ntrainer: interrupted; the state was saved to %s\nresume with: %s\n", last, resumeCommand(invocation, opts.args, last))
		return exitInterrupted
	case err != nil:
		fmt.Fprintln(stderr, err)
		return exitError
	}
	return exitOK
}

// runDir returns the run directory of the configuration at path, for
// messages.
func runDir(path string, sets []config.Override) string {
	cfg, err := config.Load(path, sets...)
	if err != nil {
		return config.Default().Output.CheckpointDir
	}
	return cfg.Output.CheckpointDir
}

func trainRun(ctx context.Context, opts trainOptions, stdout, stderr io.Writer) error {
	cfgPath, resume := opts.cfgPath, opts.resume
	cfg, err := config.Load(cfgPath, opts.sets...)
	if err != nil {
		return err
	}
	// A missing GPU is an error before anything else happens.
	dev, err := trainer.OpenDevice(cfg.Device)
	if err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	defer dev.Close()
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		return fmt.Errorf("trainer: %s: %w", cfgPath, err)
	}
	m.Backend = dev.Backend()
	fmt.Fprintf(stdout, "model: %d learnable parameters (limit %d)\n", m.Capacity(), cfg.Model.MaxParams)
	fmt.Fprintf(stdout, "device: %v\n", dev)
	// One trainer per run folder: a second one would interleave its
	// checkpoints with this one's.
	lock, err := rundir.Acquire(cfg.Output.CheckpointDir)
	if err != nil {
		return fmt.Errorf("trainer: output.checkpoint_dir: %w", err)
	}
	defer lock.Release()
	// Temporary files of a trainer killed while saving are garbage now
	// that this process owns the folder.
	if _, err := checkpoint.RemoveStaleTemps(cfg.Output.CheckpointDir); err != nil {
		return fmt.Errorf("trainer: output.checkpoint_dir: %w", err)
	}
	if resume == "" {
		if err := startAfresh(cfg, opts); err != nil {
			return err
		}
	}
	progress, done := downloadBar(stderr)
	path, err := dataset.Ensure(ctx, cfg.Data.Dir, cfg.Data.Download, dataset.DownloadOptions{Progress: progress})
	done()
	if err != nil {
		return err
	}
	all, err := dataset.LoadTrain(path)
	if err != nil {
		return err
	}
	trainSet, valSet, err := all.Split(cfg.Data.ValSize, cfg.Data.Seed)
	if err != nil {
		return fmt.Errorf("trainer: data.val_size: %w", err)
	}
	fmt.Fprintf(stdout, "data: %d training and %d validation images from %s\n", trainSet.Len(), valSet.Len(), path)
	s, err := trainer.NewSolver(cfg, m, trainSet, valSet)
	if err != nil {
		return err
	}
	defer s.Close()
	if d := cfg.Solver.Distillation; d.Enabled() {
		fmt.Fprintf(stdout, "distillation: %d teacher(s) %v, weight %g, temperature %g\n", len(d.Teachers), d.Teachers, d.Weight, d.Temperature)
	}
	display := newDisplay(stdout)
	s.Logf = display.Logf
	if resume != "" {
		s.AllowScheduleChange = opts.allowSchedule
		if err := s.Resume(resume); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "resumed from %s after epoch %d (step %d)\n", resume, s.Epoch, s.Step)
	}
	if err := os.MkdirAll(cfg.Output.CheckpointDir, 0o755); err != nil {
		return fmt.Errorf("trainer: %w", err)
	}
	yml, err := cfg.Marshal()
	if err != nil {
		return err
	}
	yml = append(overridesHeader(opts.sets), yml...)
	if err := checkpoint.WriteBytesAtomic(filepath.Join(cfg.Output.CheckpointDir, "config.yaml"), yml); err != nil {
		return err
	}
	remaining := cfg.Solver.Epochs - s.Epoch
	stopped := s.EarlyStop()
	if remaining <= 0 || stopped != "" {
		if stopped != "" {
			fmt.Fprintf(stdout, "nothing to do: early stopping ended the run after epoch %d: %s\n", s.Epoch, stopped)
		} else {
			fmt.Fprintf(stdout, "nothing to do: the run has already trained %d of %d epochs\n", s.Epoch, cfg.Solver.Epochs)
		}
		// A run that finished without writing its best model (say, to a
		// models_dir that was not writable) writes it now.
		if _, err := os.Stat(s.BestModelPath()); errors.Is(err, fs.ErrNotExist) {
			_, err = s.SaveBestModel()
			return err
		}
		return nil
	}
	s.Observers = []trainer.Observer{
		&history.Writer{Dir: cfg.Output.CheckpointDir},
		plot.Writer{Dir: cfg.Output.PlotsDirOrDefault(), Title: cfg.Output.Name},
		display,
	}
	fmt.Fprintf(stdout, "training %d epochs of %d batches of %d into %s\n", remaining, s.StepsPerEpoch(), cfg.Solver.BatchSize, cfg.Output.CheckpointDir)
	err = s.Train(ctx, remaining)
	display.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "best validation accuracy: %.2f%% (epoch %d)\n", 100*s.BestValAcc, s.BestEpoch)
	return nil
}

// progressDisplay shows the training loop as it goes.
type progressDisplay interface {
	trainer.BatchObserver
	// Logf prints a note.
	Logf(format string, args ...any)
	// Finish ends the display.
	Finish()
}

// newDisplay returns progress bars when w is a terminal, else timestamped
// lines.
func newDisplay(w io.Writer) progressDisplay {
	if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return &progress.Bars{W: w}
	}
	return &progress.Plain{W: w}
}

// downloadBar returns a progress callback for a dataset download that
// draws a progress bar in bytes on w once the server answers, and a func
// that finishes the bar, if one was started.
func downloadBar(w io.Writer) (progress func(done, total int64), finish func()) {
	var bar *pb.ProgressBar
	progress = func(done, total int64) {
		if bar == nil {
			bar = pb.New64(total)
			bar.SetWriter(w)
			bar.Set(pb.Bytes, true)
			bar.SetTemplate(pb.Full)
			bar.Start()
		}
		bar.SetCurrent(done)
	}
	finish = func() {
		if bar != nil {
			bar.Finish()
		}
	}
	return progress, finish
}

func summary(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("summary", stderr)
	cfgPath := fs.String("config", "config.yaml", "the YAML configuration")
	var sets overrideFlags
	fs.Var(&sets, "set", setUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*cfgPath, sets...)
	if err != nil {
		return err
	}
	// The table is printed for a network over the budget too: that is
	// when it shows where the parameters go.
	layers, err := model.Layers(cfg.Model)
	if err != nil {
		return fmt.Errorf("trainer: %s: %w", *cfgPath, err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\toutput\tformula\tparameters\t")
	total := 0
	for _, l := range layers {
		dims := make([]string, len(l.Out))
		for i, d := range l.Out {
			dims[i] = fmt.Sprint(d)
		}
		formula := l.Formula
		if l.Params > 0 {
			formula += fmt.Sprintf(" = %d", l.Params)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", l.Name, strings.Join(dims, "×"), formula, l.Params)
		total += l.Params
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "total learnable parameters: %d\n", total)
	if limit := cfg.Model.MaxParams; total > limit {
		return fmt.Errorf("trainer: %s: the network has %d learnable parameters, %d over the limit model.max_params = %d", *cfgPath, total, total-limit, limit)
	}
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		return fmt.Errorf("trainer: %s: %w", *cfgPath, err)
	}
	if total != m.Capacity() {
		return fmt.Errorf("trainer: internal error: the layers add up to %d parameters, the graph holds %d", total, m.Capacity())
	}
	return nil
}

func test(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("test", stderr)
	ckpt := fs.String("checkpoint", "", "the checkpoint to evaluate (e.g. models/best.ckpt)")
	data := fs.String("data", "", "directory holding cifar-10-batches-bin/ (or the .bin files), or the .tar.gz archive")
	split := fs.String("split", "test", "which images: test (test_batch.bin), val or train (the split of the checkpoint's configuration)")
	flip := fs.Bool("flip", false, "average each image's logits with those of its mirror image (test-time augmentation); by default on if the checkpoint was trained with horizontal flips")
	shift := fs.Int("shift", 0, "also average over each image translated by up to this many pixels in each direction, the vacated pixels zero as in training's crops: (2·shift+1)² positions, each also mirrored with -flip; by default 1 if the checkpoint was trained with random crops, else 0. -shift 0 -flip=false for the single view only")
	devName := fs.String("device", "cpu", "where to compute: "+config.DeviceUsage)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *ckpt == "" || *data == "" {
		fmt.Fprintln(stderr, "trainer test: -checkpoint and -data are required")
		return errUsage
	}
	if *shift < 0 || *shift > maxShift {
		fmt.Fprintf(stderr, "trainer test: -shift must be 0 to %d pixels, got %d\n", maxShift, *shift)
		return errUsage
	}
	f, err := checkpoint.Load(*ckpt)
	if err != nil {
		return err
	}
	warnUnchecked(stderr, *ckpt, f)
	dev, err := trainer.OpenDevice(*devName)
	if err != nil {
		return fmt.Errorf("trainer test: %w", err)
	}
	defer dev.Close()
	c, err := model.FromCheckpoint(f, model.OnDevice(dev.Backend()))
	if err != nil {
		return err
	}
	defer c.Close()
	// Unless asked otherwise, the views are those training saw.
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if !given["flip"] {
		*flip = f.Config.Data.Augment.HorizontalFlip
	}
	if !given["shift"] {
		*shift = min(1, f.Config.Data.Augment.CropPadding)
	}
	var images *dataset.Set
	switch *split {
	case "test":
		images, err = dataset.LoadTest(*data)
	case "val", "train":
		var all, tr, val *dataset.Set
		if all, err = dataset.LoadTrain(*data); err == nil {
			tr, val, err = all.Split(f.Config.Data.ValSize, f.Config.Data.Seed)
			images = tr
			if *split == "val" {
				images = val
			}
		}
	default:
		fmt.Fprintf(stderr, "trainer test: -split must be test, val or train, got %q\n", *split)
		return errUsage
	}
	if err != nil {
		return err
	}
	var confusion [dataset.NumClasses][dataset.NumClasses]int
	norm := dataset.NewNormalization(c.Normalize)
	correct, n, err := trainer.Evaluate(c, images, norm, 0, nil, &confusion)
	if err != nil {
		return err
	}
	single := correct
	c.FlipAverage, c.Shift = *flip, *shift
	views := describeViews(*flip, *shift)
	if *flip || *shift > 0 {
		confusion = [dataset.NumClasses][dataset.NumClasses]int{}
		if correct, _, err = trainer.Evaluate(c, images, norm, 0, nil, &confusion); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "checkpoint %s: epoch %d, %d parameters; %d %s images; %s\n\n", *ckpt, f.Epoch, c.Model.Capacity(), n, *split, views)
	writeConfusion(stdout, &confusion)
	fmt.Fprintln(stdout)
	if *flip || *shift > 0 {
		fmt.Fprintf(stdout, "%s accuracy, single view: %.2f%%\n", *split, 100*float64(single)/float64(n))
	}
	fmt.Fprintf(stdout, "%s accuracy: %.2f%%\n", *split, 100*float64(correct)/float64(n))
	return nil
}

// warnUnchecked notes that a checkpoint of format version 1 carries no
// checksum, so corruption cannot be detected.
func warnUnchecked(w io.Writer, path string, f *checkpoint.File) {
	if f.Unchecked() {
		fmt.Fprintf(w, "trainer: note: %s is a checkpoint of format version 1, which has no checksum, so corruption cannot be detected; saving it again (for example by resuming) writes version %d\n", path, checkpoint.Version)
	}
}

// maxShift is the largest -shift of trainer test: beyond it most of the
// image is gone.
const maxShift = 8

// describeViews says which test-time views trainer test averages.
func describeViews(flip bool, shift int) string {
	switch {
	case !flip && shift == 0:
		return "single view"
	case shift == 0:
		return "each image averaged with its mirror image (-flip=false for the single view)"
	}
	n := (2*shift + 1) * (2*shift + 1)
	what := "the image"
	if flip {
		n *= 2
		what = "the image and its mirror image"
	}
	return fmt.Sprintf("the mean of %d views: %s, each translated by up to %d pixel(s) (-shift 0 -flip=false for the single view)", n, what, shift)
}

// writeConfusion prints per-class accuracy and the confusion matrix (rows:
// true class, columns: predicted class).
func writeConfusion(w io.Writer, m *[dataset.NumClasses][dataset.NumClasses]int) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "true \\ predicted\t")
	for k := range dataset.NumClasses {
		fmt.Fprintf(tw, "%d\t", k)
	}
	fmt.Fprintln(tw, "accuracy\t")
	for k, row := range m {
		total := 0
		for _, v := range row {
			total += v
		}
		fmt.Fprintf(tw, "%d %s\t", k, dataset.ClassNames[k])
		for _, v := range row {
			fmt.Fprintf(tw, "%d\t", v)
		}
		if total > 0 {
			fmt.Fprintf(tw, "%.2f%%\t\n", 100*float64(row[k])/float64(total))
		} else {
			fmt.Fprint(tw, "-\t\n")
		}
	}
	tw.Flush()
}

func plotRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("plot", stderr)
	dir := fs.String("run", "", "the run directory holding history.csv")
	title := fs.String("title", "", "a title for the plot (default: the directory's name)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "trainer plot: -run is required")
		return errUsage
	}
	h, err := history.Read(filepath.Join(*dir, history.File))
	if err != nil {
		return err
	}
	if *title == "" {
		*title = filepath.Base(*dir)
	}
	out := filepath.Join(*dir, plot.File)
	if err := plot.Training(out, h, *title); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s (%d epochs)\n", out, h.Len())
	return nil
}
