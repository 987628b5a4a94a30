package config

import (
	"math"
	"reflect"
	"strconv"
	"strings"
)

// ChangeKind says whether a field of the configuration may differ between
// the configuration a run was started with (saved in its checkpoints) and
// the one it is resumed with.
//
// Free (may change on resume): device (a checkpoint resumes on the CPU or
// the GPU), data.dir, data.download, model.max_params (a limit checked
// when the network is built, not the network),
// model.init_from (read only when a run starts),
// solver.num_train_samples, solver.num_val_samples, output.name,
// output.checkpoint_dir, output.models_dir, output.plots_dir.
//
// Schedule (may change only when the user asks for a new learning-rate
// schedule): solver.epochs, solver.optimizer.lr, solver.scheduler.name,
// solver.scheduler.step_size, solver.scheduler.milestones,
// solver.scheduler.gamma, solver.scheduler.warmup_epochs,
// solver.scheduler.min_lr, solver.scheduler.pct_start,
// solver.scheduler.div_factor, solver.scheduler.final_div_factor,
// solver.early_stopping.patience, solver.early_stopping.min_delta.
//
// Fixed (never changes on resume): every other field, among them the data
// split (data.val_size, data.seed), data.normalize, data.augment, the whole
// model section except max_params, the optimizer except its lr (weight
// decay included), solver.label_smoothing, solver.batch_size,
// solver.distillation and seed. A field added to Config is Fixed until it
// is given another kind.
type ChangeKind int

const (
	// Free marks a field that does not change what the run computes: where
	// it reads and writes files, and how much of it is measured.
	Free ChangeKind = iota
	// Schedule marks a field of the learning-rate schedule: changing it
	// changes the rest of the run, which a user may want (more epochs, a
	// lower rate), but never by accident.
	Schedule
	// Fixed marks a field that a resumed run must keep: changing it makes
	// the run a mix of two different experiments.
	Fixed
)

// String returns "free", "schedule" or "fixed".
func (k ChangeKind) String() string {
	switch k {
	case Free:
		return "free"
	case Schedule:
		return "schedule"
	case Fixed:
		return "fixed"
	}
	return "ChangeKind(" + strconv.Itoa(int(k)) + ")"
}

// resumeRules is the one table that gives each field its ChangeKind; the
// documentation of ChangeKind lists it in words. A rule applies to its path
// and to everything under it (list indices left out: "model" covers
// "model.stages[1].channels"), and the longest path that applies wins. A
// path no rule covers is Fixed. Free and Schedule rules name leaves only,
// so that a field added under them is Fixed; Fixed rules are there for
// their reasons.
var resumeRules = []struct {
	path   string
	kind   ChangeKind
	reason string
}{
	{"device", Free, "where the network computes; a checkpoint resumes on either device"},
	{"data.dir", Free, "where the data set is read from"},
	{"data.download", Free, "whether a missing data set is fetched"},
	{"model.max_params", Free, "a limit on the network, not the network"},
	{"model.init_from", Free, "read only when a run starts, never on resume"},
	{"solver.num_train_samples", Free, "how many training images the accuracy is measured on"},
	{"solver.num_val_samples", Free, "how many validation images the accuracy is measured on"},
	{"output.name", Free, "where the run writes its files"},
	{"output.checkpoint_dir", Free, "where the run writes its files"},
	{"output.models_dir", Free, "where the run writes its files"},
	{"output.plots_dir", Free, "where the run writes its files"},

	{"solver.epochs", Schedule, "changes the length of the run and its learning-rate schedule"},
	{"solver.optimizer.lr", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.name", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.step_size", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.milestones", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.gamma", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.warmup_epochs", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.min_lr", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.pct_start", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.div_factor", Schedule, "changes the learning-rate schedule"},
	{"solver.scheduler.final_div_factor", Schedule, "changes the learning-rate schedule"},
	{"solver.early_stopping.patience", Schedule, "changes when the run stops"},
	{"solver.early_stopping.min_delta", Schedule, "changes when the run stops"},

	{"data.val_size", Fixed, "changes the train/validation split"},
	{"data.seed", Fixed, "changes the train/validation split"},
	{"data.normalize", Fixed, "changes the network's inputs"},
	{"data.augment", Fixed, "changes the training images"},
	{"model", Fixed, "changes the network"},
	{"solver.optimizer", Fixed, "changes the optimizer"},
	{"solver.label_smoothing", Fixed, "changes the loss"},
	{"solver.batch_size", Fixed, "changes the steps of every epoch"},
	{"solver.distillation", Fixed, "changes the loss"},
	{"seed", Fixed, "changes the batch order and the augmentation"},
}

// unclassified is the reason given for a field no rule covers.
const unclassified = "a field that must not change on resume"

// classify returns the kind of the field at a YAML path and what changing
// it does.
func classify(path string) (ChangeKind, string) {
	p := stripIndices(path)
	kind, reason, best := Fixed, unclassified, -1
	for _, r := range resumeRules {
		if (p == r.path || strings.HasPrefix(p, r.path+".")) && len(r.path) > best {
			kind, reason, best = r.kind, r.reason, len(r.path)
		}
	}
	return kind, reason
}

// stripIndices removes the list indices from a YAML path:
// "model.stages[1].channels" becomes "model.stages.channels".
func stripIndices(path string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '[')
		if i < 0 {
			return b.String() + path
		}
		b.WriteString(path[:i])
		j := strings.IndexByte(path[i:], ']')
		if j < 0 {
			return b.String()
		}
		path = path[i+j+1:]
	}
}

// Change is one field that differs between two configurations.
type Change struct {
	// Path is the field's YAML path, such as "data.seed" or
	// "model.stages[1].channels"; for lists of different lengths, the
	// path of the list, such as "model.stages".
	Path string
	// Old and New are the saved and current values written as in YAML
	// flow style: 0.1, true, "data" (strings always quoted), [16, 32],
	// [{channels: 16, blocks: 2, stride: 1}].
	Old, New string
	// Kind says whether the field may change on resume.
	Kind ChangeKind
	// Reason says what the change does, such as "changes the
	// train/validation split".
	Reason string
}

// String returns "path: old -> new (reason)", such as
//
//	data.seed: 0 -> 1 (changes the train/validation split)
func (c Change) String() string {
	return c.Path + ": " + c.Old + " -> " + c.New + " (" + c.Reason + ")"
}

// FormatChanges returns the changes one per line, each indented by a tab
// (no newline after the last), for the body of an error message:
//
//	data.seed: 0 -> 1 (changes the train/validation split)
//	solver.epochs: 20 -> 30 (changes the length of the run and its learning-rate schedule)
func FormatChanges(changes []Change) string {
	lines := make([]string, len(changes))
	for i, c := range changes {
		lines[i] = "\t" + c.String()
	}
	return strings.Join(lines, "\n")
}

// Diff compares the configuration a run was started with (saved, as stored
// in its checkpoint) with the one it is being resumed with (current), and
// returns every field that differs, in the order of the fields, each with
// its kind (see ChangeKind) and reason. It compares leaves: lists of the
// same length element by element ("model.stages[1].channels"), and a list
// whose length changed is one Change for the whole list ("model.stages").
// An empty list equals a nil one, and NaN equals NaN. Diff walks the
// struct by reflection over its YAML keys, so a field added to Config is
// compared too, as Fixed unless resumeRules says otherwise. It returns
// nil when nothing differs.
func Diff(saved, current Config) []Change {
	var changes []Change
	diffValues("", reflect.ValueOf(saved), reflect.ValueOf(current), &changes)
	return changes
}

// diffValues appends to changes every leaf that differs between a and b,
// two values of the same type at the YAML path path.
func diffValues(path string, a, b reflect.Value, changes *[]Change) {
	switch a.Kind() {
	case reflect.Struct:
		fields, names := yamlFields(a.Type())
		for _, name := range names {
			i := fields[name].Index
			diffValues(join(path, name), a.FieldByIndex(i), b.FieldByIndex(i), changes)
		}
	case reflect.Slice:
		if a.Len() != b.Len() {
			*changes = append(*changes, newChange(path, a, b))
			return
		}
		for i := range a.Len() {
			diffValues(index(path, i), a.Index(i), b.Index(i), changes)
		}
	default:
		if !equalLeaves(a, b) {
			*changes = append(*changes, newChange(path, a, b))
		}
	}
}

func newChange(path string, a, b reflect.Value) Change {
	kind, reason := classify(path)
	return Change{Path: path, Old: render(a), New: render(b), Kind: kind, Reason: reason}
}

// equalLeaves compares two scalars of the same type, NaN equal to NaN.
func equalLeaves(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y || math.IsNaN(x) && math.IsNaN(y)
	}
	return a.Equal(b)
}

// render writes v as in YAML flow style, with strings always quoted.
func render(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Struct:
		fields, names := yamlFields(v.Type())
		parts := make([]string, len(names))
		for i, name := range names {
			parts[i] = name + ": " + render(v.FieldByIndex(fields[name].Index))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = render(v.Index(i))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.String:
		return strconv.Quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, v.Type().Bits())
	}
	return v.String()
}
