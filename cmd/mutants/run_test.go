package main

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

const src = "package p\n\nfunc f(n, a, b int) int {\n\tif n > 64 {\n\t\treturn a + b\n\t}\n\treturn a - b\n}\n"

func result(statuses ...string) string {
	// Mutants of lines 4 (>), 5 (+) and 7 (-), in that order.
	at := []string{`"line":4,"column":7,"type":"CONDITIONALS_BOUNDARY"`, `"line":5,"column":12,"type":"ARITHMETIC_BASE"`, `"line":7,"column":11,"type":"ARITHMETIC_BASE"`}
	var ms []string
	for i, s := range statuses {
		ms = append(ms, `{`+at[i]+`,"status":"`+s+`"}`)
	}
	return `{"go_module":"ibkey","files":[{"file_name":"a.go","mutations":[` + strings.Join(ms, ",") + `]}]}`
}

const listed = "# == authcore\n\nlib/p/a.go CONDITIONALS_BOUNDARY 7\n\tcode: if n > 64 {\n\twhy: n is never 64\n"

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		list     string
		results  string
		goal     string
		fails    bool
		contains []string
	}{
		{
			name: "all killed or listed", list: listed, goal: "lib/...=95",
			results: result("LIVED", "KILLED", "KILLED"),
			// gremlins' figure counts the listed mutant as lived; the
			// score sets it aside.
			contains: []string{"lib/p", "66.7%", "100.0%", "95% ok"},
		},
		{
			name: "under the goal", list: listed, goal: "lib/p=60",
			results:  result("LIVED", "LIVED", "KILLED"),
			contains: []string{"33.3%", "50.0%", "60% SHORT"},
			fails:    true,
		},
		{
			name: "unlisted survivor", list: listed, goal: "lib/p=10",
			results:  result("LIVED", "LIVED", "KILLED"),
			contains: []string{"1 living mutants are not in", "lib/p/a.go ARITHMETIC_BASE 12", "code: return a + b"},
			fails:    true,
		},
		{
			name: "stale entry", list: listed, goal: "lib/p=10",
			results:  result("KILLED", "KILLED", "NOT COVERED"),
			contains: []string{"1 entries of list.txt match no living mutant", "line 3: lib/p/a.go CONDITIONALS_BOUNDARY 7", "66.7%"},
			fails:    true,
		},
		{
			name: "no goal for the package", list: listed, goal: "other/...=99",
			results:  result("LIVED", "KILLED", "TIMED OUT"),
			contains: []string{"-"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := fstest.MapFS{
				"list.txt":   {Data: []byte(tc.list)},
				"lib/p/a.go": {Data: []byte(src)},
				"out/p.json": {Data: []byte(tc.results)},
			}
			c := config{list: "list.txt", runs: []string{"lib/p:out/p.json"}}
			if err := c.goals.Set(tc.goal); err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			err := run(c, root, &out)
			if tc.fails != errors.Is(err, errFailed) {
				t.Errorf("err = %v, want failure %v", err, tc.fails)
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	root := fstest.MapFS{
		"list.txt":   {Data: []byte("lib/a.go NOPE 3\n")},
		"good.txt":   {Data: []byte(listed)},
		"bad.json":   {Data: []byte(`{"files":[{"file_name":"../../etc/x.go","mutations":[]}]}`)},
		"lib/p/a.go": {Data: []byte(src)},
	}
	for _, c := range []config{
		{list: "list.txt", runs: []string{"lib/p:bad.json"}},
		{list: "good.txt", runs: []string{"lib/p:bad.json"}},
		{list: "good.txt", runs: []string{"lib/p"}},
		{list: "missing.txt", runs: []string{"lib/p:bad.json"}},
	} {
		var out strings.Builder
		if err := run(c, root, &out); err == nil || errors.Is(err, errFailed) {
			t.Errorf("%+v: err = %v, want an error about the input", c, err)
		}
	}
	var g goals
	for _, bad := range []string{"lib", "lib=", "=90", "lib=101", "lib=-1", "lib=x"} {
		if g.Set(bad) == nil {
			t.Errorf("-goal %q accepted", bad)
		}
	}
}

func TestGoals(t *testing.T) {
	var g goals
	for _, s := range []string{"authcore/...=95", "authcore/vault=90", "portal/core=90"} {
		if err := g.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	for dir, want := range map[string]float64{"authcore": 95, "authcore/ocra": 95, "authcore/vault": 90, "portal/core": 90, "portal/core/x": -1, "authcorex": -1} {
		got, ok := g.of(dir)
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("goal of %s = %v, want %v", dir, got, want)
		}
	}
}
