package config

import (
	"os"
	"reflect"
	"sort"
	"testing"
)

// rootConfig is the default job shipped at the root of the repository.
const rootConfig = "../config.yaml"

// The shipped config.yaml must parse, validate and equal Default, so that the
// two never drift apart.
func TestRootConfigEqualsDefault(t *testing.T) {
	c, err := Load(rootConfig)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("%s = %+v\nwant Default() = %+v", rootConfig, c, Default())
	}
}

// The shipped config.yaml must spell out every key, so that a new user sees
// all the settings (a field added to the structs must be added there too).
func TestRootConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(rootConfig)
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	lines, err := decode(data, rootConfig, &c)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, p := range yamlPaths(reflect.TypeOf(Config{}), "") {
		if lines[p] == 0 {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s lacks the keys %q", rootConfig, missing)
	}
}

// yamlPaths returns the YAML path of every field of struct t, at any depth,
// not looking inside lists.
func yamlPaths(t reflect.Type, prefix string) []string {
	fields, names := yamlFields(t)
	var paths []string
	for _, name := range names {
		p := join(prefix, name)
		paths = append(paths, p)
		if ft := fields[name].Type; ft.Kind() == reflect.Struct {
			paths = append(paths, yamlPaths(ft, p)...)
		}
	}
	return paths
}

func TestYAMLPaths(t *testing.T) {
	paths := yamlPaths(reflect.TypeOf(Config{}), "")
	for _, want := range []string{"data.normalize.std", "model.stages", "solver.scheduler.final_div_factor", "seed"} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("yamlPaths lacks %q", want)
		}
	}
}
