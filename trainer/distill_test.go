package trainer

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/cifar-resnet/trainer/graph/cpu"
	"github.com/cifar-resnet/trainer/model"
)

// trainTeacher trains the tiny network and returns its saved model.
func trainTeacher(t *testing.T, dir string) string {
	t.Helper()
	cfg := tinyConfig(dir)
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), cfg.Solver.Epochs); err != nil {
		t.Fatal(err)
	}
	if s.BestValAcc < 0.6 {
		t.Fatalf("the teacher reached %.3f validation accuracy, want ≥ 0.6", s.BestValAcc)
	}
	return filepath.Join(cfg.Output.ModelsDir, cfg.Output.Name+".ckpt")
}

// TestDistillationLearnsFromTeacher trains a student with weight 1, where
// the labels play no part: all it learns comes from the teacher.
func TestDistillationLearnsFromTeacher(t *testing.T) {
	teacher := trainTeacher(t, t.TempDir())
	cfg := tinyConfig(t.TempDir())
	cfg.Seed = 4
	cfg.Solver.Distillation.Teachers = []string{teacher, teacher}
	cfg.Solver.Distillation.Weight = 1
	cfg.Solver.Distillation.Temperature = 2
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), cfg.Solver.Epochs); err != nil {
		t.Fatal(err)
	}
	if s.BestValAcc < 0.6 {
		t.Errorf("the student reached %.3f validation accuracy from the teacher alone, want ≥ 0.6; history %v", s.BestValAcc, s.History.ValAcc)
	}
}

// TestDistillationWeightZero checks that a teacher with weight 0 changes
// nothing: the run is the same, batch for batch, as one without.
func TestDistillationWeightZero(t *testing.T) {
	teacher := trainTeacher(t, t.TempDir())
	plainCfg := tinyConfig(t.TempDir())
	plainCfg.Solver.Epochs = 2
	plain := newTinySolver(t, plainCfg)
	if err := plain.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig(t.TempDir())
	cfg.Solver.Epochs = 2
	cfg.Solver.Distillation.Teachers = []string{teacher}
	cfg.Solver.Distillation.Weight = 0
	s := newTinySolver(t, cfg)
	if err := s.Train(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.History.Loss, plain.History.Loss) || !reflect.DeepEqual(s.History.ValAcc, plain.History.ValAcc) {
		t.Errorf("weight 0: loss %v, validation %v; without a teacher: %v, %v", s.History.Loss, s.History.ValAcc, plain.History.Loss, plain.History.ValAcc)
	}
}

func TestDistillationTeacherErrors(t *testing.T) {
	teacher := trainTeacher(t, t.TempDir())
	missing := filepath.Join(t.TempDir(), "nope.ckpt")
	cfg := tinyConfig(t.TempDir())
	cfg.Solver.Distillation.Teachers = []string{teacher, missing}
	m, err := model.New(cfg.Model, cfg.Seed)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSolver(cfg, m, colourSet(32, 1), colourSet(10, 2))
	if err == nil || !strings.Contains(err.Error(), "teachers[1]") || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing teacher: error %v, want one naming teachers[1] and %s", err, missing)
	}
	cfg.Solver.Distillation.Teachers = []string{teacher}
	cfg.Data.Normalize.Std = []float64{0.25, 0.25, 0.25}
	_, err = NewSolver(cfg, m, colourSet(32, 1), colourSet(10, 2))
	if err == nil || !strings.Contains(err.Error(), "normalize") {
		t.Errorf("teacher with other normalisation: error %v, want one about data.normalize", err)
	}
}

// TestTeachersUseTheStudentsBackend checks that the teachers' nets run on
// the backend of the student's model.
func TestTeachersUseTheStudentsBackend(t *testing.T) {
	teacher := trainTeacher(t, t.TempDir())
	cfg := tinyConfig(t.TempDir())
	cfg.Solver.Distillation.Teachers = []string{teacher}
	be := cpu.New()
	ts, err := loadTeachers(cfg.Solver.Distillation, cfg.Data.Normalize, be)
	if err != nil {
		t.Fatal(err)
	}
	defer ts.close()
	if got := ts.nets[0].Model.Backend; got != be {
		t.Errorf("the teacher runs on %T %p, not on the student's backend %p", got, got, be)
	}
}
