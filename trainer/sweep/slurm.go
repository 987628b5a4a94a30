package sweep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files of the Slurm executor, in the sweep folder's slurm/ folder.
const (
	// SlurmDir holds the scripts, the job list, the trainer's copy and the
	// array tasks' own logs.
	SlurmDir = "slurm"
	// JobsFile lists the job arrays submitted (SlurmJob).
	JobsFile = "jobs.json"
	// DefaultSlurmCPUs is the cores of a trial on Slurm when the spec
	// gives none.
	DefaultSlurmCPUs = 1
)

// SlurmArray is a job array that trains trials of a sweep, one array task
// per trial. Every path in it is absolute: the jobs run on other nodes,
// which must see the same files (shared storage).
type SlurmArray struct {
	// Name is the sweep's name.
	Name string
	// Dir is the sweep folder.
	Dir string
	// WorkDir is the folder the trials run in: the relative paths of
	// their configurations (data.dir, the sweep folder) start there.
	WorkDir string
	// Bin is the trainer binary.
	Bin string
	// IDs are the trials, array task i training IDs[i].
	IDs []string
	// CPUs is each task's --cpus-per-task and GOMAXPROCS.
	CPUs int
	// Options are the spec's Slurm settings.
	Options Slurm
}

// Script returns the sbatch script of the array: one task per trial,
// at most MaxRunning at once, each with CPUs cores and the time limit,
// requeued (and resumed from its last.ckpt) when preempted; each task's
// trainer writes to its trial's train.log, and Slurm's own output of
// task i goes to slurm/logs/JOB_i.out.
func (a SlurmArray) Script() string {
	var b strings.Builder
	q := ShellQuote
	b.WriteString("#!/bin/bash\n")
	fmt.Fprintf(&b, "# Job array of sweep %s, written by trainer sweep: array task i trains trial ids[i].\n", a.Name)
	fmt.Fprintf(&b, "#SBATCH --job-name=sweep-%s\n", a.Name)
	array := fmt.Sprintf("0-%d", len(a.IDs)-1)
	if a.Options.MaxRunning > 0 {
		array += "%" + strconv.Itoa(a.Options.MaxRunning)
	}
	fmt.Fprintf(&b, "#SBATCH --array=%s\n", array)
	fmt.Fprintf(&b, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=%d\n", a.CPUs)
	fmt.Fprintf(&b, "#SBATCH --time=%s\n", a.Options.Time)
	if a.Options.Partition != "" {
		fmt.Fprintf(&b, "#SBATCH --partition=%s\n", a.Options.Partition)
	}
	b.WriteString("# A preempted or requeued task runs again and resumes from its trial's last.ckpt.\n#SBATCH --requeue\n#SBATCH --open-mode=append\n")
	fmt.Fprintf(&b, "#SBATCH --chdir=%s\n", a.WorkDir)
	fmt.Fprintf(&b, "#SBATCH --output=%s\n", filepath.Join(a.Dir, SlurmDir, "logs", "%A_%a.out"))
	for _, o := range a.Options.Options {
		fmt.Fprintf(&b, "#SBATCH %s\n", o)
	}
	b.WriteString("ids=(" + strings.Join(a.IDs, " ") + ")\n")
	b.WriteString("id=${ids[$SLURM_ARRAY_TASK_ID]}\n")
	fmt.Fprintf(&b, "trial=%s/\"$id\"\n", q(filepath.Join(a.Dir, TrialsDir)))
	fmt.Fprintf(&b, "export GOMAXPROCS=${SLURM_CPUS_PER_TASK:-%d}\n", a.CPUs)
	b.WriteString("# On SIGTERM (scancel, preemption, requeue, the time limit) the trainer saves the trial's state.\n")
	fmt.Fprintf(&b, "exec %s %s -dir \"$trial\" >> \"$trial\"/%s 2>&1\n", q(a.Bin), TrialCommand, LogFile)
	return b.String()
}

// SlurmJob is a submitted job array, as listed in slurm/jobs.json.
type SlurmJob struct {
	Job       string    `json:"job"`
	IDs       []string  `json:"ids"`
	Script    string    `json:"script"`
	Submitted time.Time `json:"submitted"`
}

// Submit writes the array's script to slurm/array-N.sbatch in the sweep
// folder, submits it with sbatch and records the job in slurm/jobs.json.
// It returns the job's id and the script's path.
func (a SlurmArray) Submit(ctx context.Context) (job, script string, err error) {
	if len(a.IDs) == 0 {
		return "", "", errors.New("sweep: no trial to submit")
	}
	dir := filepath.Join(a.Dir, SlurmDir)
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return "", "", fmt.Errorf("sweep: %w", err)
	}
	jobs, err := ReadJobs(a.Dir)
	if err != nil {
		return "", "", err
	}
	script = filepath.Join(dir, fmt.Sprintf("array-%d.sbatch", len(jobs)+1))
	if err := writeFile(script, []byte(a.Script())); err != nil {
		return "", "", err
	}
	cmd := exec.CommandContext(ctx, "sbatch", "--parsable", script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", script, fmt.Errorf("sweep: sbatch %s: %v: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	// --parsable prints "jobid" or "jobid;cluster".
	job, _, _ = strings.Cut(strings.TrimSpace(string(out)), ";")
	if _, err := strconv.Atoi(job); err != nil {
		return "", script, fmt.Errorf("sweep: sbatch %s printed %q, not a job id", script, out)
	}
	jobs = append(jobs, SlurmJob{Job: job, IDs: a.IDs, Script: script, Submitted: time.Now().UTC()})
	data, err := json.MarshalIndent(jobs, "", "  ")
	if err != nil {
		return "", script, fmt.Errorf("sweep: %w", err)
	}
	return job, script, writeFile(filepath.Join(dir, JobsFile), append(data, '\n'))
}

// ReadJobs returns the job arrays submitted for the sweep folder dir,
// oldest first; none when nothing was submitted.
func ReadJobs(dir string) ([]SlurmJob, error) {
	path := filepath.Join(dir, SlurmDir, JobsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sweep: %w", err)
	}
	var jobs []SlurmJob
	if err := json.Unmarshal(data, &jobs); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", path, err)
	}
	return jobs, nil
}

// SlurmStates returns what Slurm says of the array tasks of the sweep
// folder dir, by trial id: squeue's state (PENDING, RUNNING, ...) for the
// tasks in the queue and, where sacct answers (accounting enabled),
// sacct's for the others, each with its job ("1234_5 RUNNING"). The
// latest job of a trial wins. Without squeue it returns nil and no error.
func SlurmStates(ctx context.Context, dir string) (map[string]string, error) {
	jobs, err := ReadJobs(dir)
	if err != nil || len(jobs) == 0 {
		return nil, err
	}
	if _, err := exec.LookPath("squeue"); err != nil {
		return nil, nil
	}
	ids := make([]string, len(jobs))
	order := map[string]int{} // job -> position in jobs
	for i, j := range jobs {
		ids[i], order[j.Job] = j.Job, i
	}
	// parse reads lines "JOB_TASK STATE" into trial id -> "JOB_TASK STATE",
	// the latest job of a trial winning.
	parse := func(out []byte, into map[string]string) {
		latest := map[string]int{}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			job, task, _ := strings.Cut(f[0], "_")
			n, known := order[job]
			i, err := strconv.Atoi(task)
			if !known || err != nil || i < 0 || i >= len(jobs[n].IDs) {
				continue
			}
			id := jobs[n].IDs[i]
			if prev, seen := latest[id]; !seen || n >= prev {
				latest[id], into[id] = n, f[0]+" "+f[1]
			}
		}
	}
	states := map[string]string{}
	if _, err := exec.LookPath("sacct"); err == nil {
		if out, err := exec.CommandContext(ctx, "sacct", "-n", "-X", "-P", "--delimiter= ", "-o", "JobID,State", "-j", strings.Join(ids, ",")).Output(); err == nil {
			parse(out, states)
		}
	}
	// squeue's view of the queue wins over sacct's.
	queued := map[string]string{}
	// squeue fails when one of the jobs has left its memory, but still
	// lists the others.
	out, _ := exec.CommandContext(ctx, "squeue", "-h", "-r", "-t", "all", "-j", strings.Join(ids, ","), "-o", "%i %T").Output()
	parse(out, queued)
	for id, st := range queued {
		states[id] = st
	}
	return states, nil
}

// ShellQuote quotes s for a POSIX shell when it holds anything but
// letters, digits and -_./=:,+@%.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
