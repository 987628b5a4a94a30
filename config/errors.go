package config

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the YAML path of the offending value, such as
	// "model.stages[1].channels". It is empty for a problem with the file
	// as a whole, such as a syntax error or an unknown top-level key.
	Path string
	// Line is the 1-based line of the value in the file, or 0 when it is
	// unknown (a value not present in the file, or a Config validated
	// without a file).
	Line int
	// Msg says what is wrong, such as "must be > 0, got 0".
	Msg string
	// Override is the override ("key=value", see Override) that set the
	// offending value, when the value came from one rather than from the
	// file; the problem is then reported as "-set key=value: ...".
	Override string
}

// Error returns "path: msg", preceded by "line N: " when the line is known.
func (p Problem) Error() string {
	return p.format("")
}

// format returns the problem as "file:line: path: msg", leaving out the
// parts that are unknown or empty, or as "-set key=value: path: msg" when
// an override set the value.
func (p Problem) format(file string) string {
	var b strings.Builder
	switch {
	case p.Override != "":
		b.WriteString(OverrideFlag + " " + p.Override + ": ")
	case file != "" && p.Line > 0:
		b.WriteString(file + ":" + strconv.Itoa(p.Line) + ": ")
	case file != "":
		b.WriteString(file + ": ")
	case p.Line > 0:
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// FormatProblems formats the problems found in the YAML file named file
// as the message of one error that starts with prefix, the name of the
// package reporting them (such as "config"). One problem makes one line,
// "prefix: file:line: path: msg", leaving out the parts that are unknown
// or empty (a problem that an override caused names the override instead
// of the file and line). Several make a header, "prefix: N problems in
// file:", followed by one tab-indented problem per line. The errors of
// this package are formatted with it, and so are those of the program's
// other YAML files that it checks the same way, such as sweep specs, so
// that every such message reads alike.
func FormatProblems(prefix, file string, problems []Problem) string {
	if len(problems) == 1 {
		return prefix + ": " + problems[0].format(file)
	}
	var b strings.Builder
	b.WriteString(prefix + ": " + strconv.Itoa(len(problems)) + " problems")
	if file != "" {
		b.WriteString(" in " + file)
	}
	b.WriteString(":")
	for _, p := range problems {
		b.WriteString("\n\t" + p.format(file))
	}
	return b.String()
}

func problemErrors(problems []Problem) []error {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return errs
}

// DecodeError reports why a YAML file could not be decoded into a Config:
// a syntax error, an unknown or duplicate key, a value of the wrong type,
// a null scalar or more than one YAML document. It holds every such problem
// found, in file order.
type DecodeError struct {
	// File is the name given to Parse, or the path given to Load.
	File string
	// Problems holds at least one problem.
	Problems []Problem
}

// Error formats a single problem as
//
//	config: config.yaml:7: model: unknown key "stemchannels" (did you mean "stem_channels"?)
//
// and several as a header followed by one problem per line:
//
//	config: 2 problems in config.yaml:
//		config.yaml:7: model: unknown key "stemchannels" (did you mean "stem_channels"?)
//		config.yaml:12: solver.epochs: must be an integer, got "ten"
func (e *DecodeError) Error() string {
	return FormatProblems("config", e.File, e.Problems)
}

// Unwrap returns the problems, each as an error.
func (e *DecodeError) Unwrap() []error {
	return problemErrors(e.Problems)
}

// ValidationError reports every value of a decoded Config that breaks a rule.
type ValidationError struct {
	// File is the name given to Parse or the path given to Load; it is
	// empty when the error comes from Config.Validate.
	File string
	// Problems holds at least one problem, in the order of the fields.
	Problems []Problem
}

// Error formats a single problem as
//
//	config: model.stages[1].channels: must be > 0, got 0
//
// (with "config.yaml:9: " before the path when it comes from a file), and
// several as a header followed by one problem per line:
//
//	config: 2 problems in config.yaml:
//		config.yaml:9: model.stages[1].channels: must be > 0, got 0
//		config.yaml:21: solver.optimizer.name: unknown optimizer "sgdd" (want sgd, adam or adamw)
func (e *ValidationError) Error() string {
	return FormatProblems("config", e.File, e.Problems)
}

// Unwrap returns the problems, each as an error.
func (e *ValidationError) Unwrap() []error {
	return problemErrors(e.Problems)
}
