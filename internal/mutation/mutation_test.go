package mutation

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sample = `# a comment

authcore/ocra/ocra.go CONDITIONALS_BOUNDARY 7
	code: if n > 64 {
	why: n is at most 64 here,
	     so > and >= agree

# == next
portal/core/login.go ARITHMETIC_BASE 12
	code: return a + b
	why: one line
`

func TestParseEquivalents(t *testing.T) {
	got, err := ParseEquivalents(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Equivalent{
		{Path: "authcore/ocra/ocra.go", Type: "CONDITIONALS_BOUNDARY", Column: 7, Code: "if n > 64 {", Why: "n is at most 64 here, so > and >= agree", At: 3},
		{Path: "portal/core/login.go", Type: "ARITHMETIC_BASE", Column: 12, Code: "return a + b", Why: "one line", At: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestParseEquivalentsRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"two fields", "a.go CONDITIONALS_BOUNDARY\n\tcode: x\n\twhy: y\n"},
		{"unknown type", "a.go SWAP_EVERYTHING 3\n\tcode: x\n\twhy: y\n"},
		{"column zero", "a.go ARITHMETIC_BASE 0\n\tcode: x\n\twhy: y\n"},
		{"column word", "a.go ARITHMETIC_BASE x\n\tcode: x\n\twhy: y\n"},
		{"outside the module", "../a.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy: y\n"},
		{"absolute", "/a.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy: y\n"},
		{"unclean", "a/./b.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy: y\n"},
		{"not go", "a.txt ARITHMETIC_BASE 3\n\tcode: x\n\twhy: y\n"},
		{"no reason", "a.go ARITHMETIC_BASE 3\n\tcode: x\n"},
		{"no code", "a.go ARITHMETIC_BASE 3\n\twhy: y\n"},
		{"empty reason", "a.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy:\n"},
		{"two codes", "a.go ARITHMETIC_BASE 3\n\tcode: x\n\tcode: z\n\twhy: y\n"},
		{"indent first", "\tcode: x\n"},
		{"unknown field", "a.go ARITHMETIC_BASE 3\n\tline: 4\n"},
		{"twice", "a.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy: y\n\na.go ARITHMETIC_BASE 3\n\tcode: x\n\twhy: z\n"},
		{"line too long", "a.go ARITHMETIC_BASE 3\n\tcode: " + strings.Repeat("x", maxLine) + "\n\twhy: y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseEquivalents(strings.NewReader(tc.in)); !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
		})
	}
}

func FuzzParseEquivalents(f *testing.F) {
	f.Add(sample)
	f.Add("a.go INVERT_LOGICAL 1\n\tcode: a && b\n\twhy: w\n")
	data, err := os.ReadFile("../../testdata/equivalent-mutants.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Fuzz(func(t *testing.T, in string) {
		list, err := ParseEquivalents(strings.NewReader(in))
		if err != nil {
			return
		}
		var b strings.Builder
		if err := FormatEquivalents(&b, list); err != nil {
			t.Fatal(err)
		}
		again, err := ParseEquivalents(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("formatted list does not parse: %v\n%s", err, b.String())
		}
		if len(again) != len(list) {
			t.Fatalf("%d entries, then %d", len(list), len(again))
		}
		for i := range list {
			a, b := list[i], again[i]
			a.At, b.At = 0, 0
			if a != b {
				t.Fatalf("entry %d: %+v, then %+v", i, a, b)
			}
		}
	})
}

// gremlins v0.6.0's output for a package, trimmed (gremlins unleash -o).
const sampleResults = `{"go_module":"ibkey","files":[
{"file_name":"a.go","mutations":[
 {"type":"CONDITIONALS_BOUNDARY","status":"LIVED","line":3,"column":7},
 {"type":"CONDITIONALS_NEGATION","status":"KILLED","line":3,"column":7},
 {"type":"ARITHMETIC_BASE","status":"LIVED","line":4,"column":11},
 {"type":"ARITHMETIC_BASE","status":"NOT COVERED","line":5,"column":11},
 {"type":"INCREMENT_DECREMENT","status":"TIMED OUT","line":6,"column":3},
 {"type":"INVERT_NEGATIVES","status":"NOT VIABLE","line":7,"column":9}]}],
"test_efficacy":50,"mutations_coverage":50,"mutants_total":6,"mutants_killed":1,"mutants_lived":2}`

var source = []string{
	"package p",
	"func f(n, a, b int) int {",
	"\tif n > 64 {",
	"\t\treturn a + b",
	"\t\treturn a - b",
	"\tn++",
	"\treturn -n",
	"}",
}

func lineOf(path string, n int) (string, error) {
	if path != "pkg/a.go" || n > len(source) {
		return "", os.ErrNotExist
	}
	return source[n-1], nil
}

func TestSummarize(t *testing.T) {
	ms, err := ParseResults([]byte(sampleResults), "pkg")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 6 || ms[0] != (Mutant{Path: "pkg/a.go", Line: 3, Column: 7, Type: "CONDITIONALS_BOUNDARY", Status: Lived}) {
		t.Fatalf("ParseResults = %+v", ms)
	}
	list := []Equivalent{
		{Path: "pkg/a.go", Type: "CONDITIONALS_BOUNDARY", Column: 7, Code: "if n > 64 {", Why: "w"},
		// The same line, another column: does not match.
		{Path: "pkg/a.go", Type: "ARITHMETIC_BASE", Column: 12, Code: "return a + b", Why: "w"},
		// A package that was not run: not stale.
		{Path: "other/b.go", Type: "ARITHMETIC_BASE", Column: 3, Code: "x + y", Why: "w"},
	}
	s, err := Summarize(ms, list, lineOf)
	if err != nil {
		t.Fatal(err)
	}
	want := Package{Dir: "pkg", Total: 6, Killed: 1, Lived: 2, Equivalent: 1, NotCovered: 1, TimedOut: 1, NotViable: 1}
	if len(s.Packages) != 1 || s.Packages[0] != want {
		t.Fatalf("packages = %+v, want %+v", s.Packages, want)
	}
	if p := s.Packages[0]; p.Efficacy() != 100.0/3 || p.Score() != 50 || p.Coverage() != 50 {
		t.Errorf("efficacy %v score %v coverage %v, want 33.3, 50 and 50", p.Efficacy(), p.Score(), p.Coverage())
	}
	if len(s.Unlisted) != 1 || s.Unlisted[0].Line != 4 {
		t.Errorf("unlisted = %+v, want the mutant of line 4", s.Unlisted)
	}
	if len(s.Stale) != 1 || s.Stale[0].Column != 12 {
		t.Errorf("stale = %+v, want the entry of column 12", s.Stale)
	}

	// The line changed since the entry was written: the entry no longer
	// covers the mutant.
	edited := func(path string, n int) (string, error) {
		if n == 3 {
			return "\tif n > 65 {", nil
		}
		return lineOf(path, n)
	}
	s, err = Summarize(ms, list[:1], edited)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Unlisted) != 2 || len(s.Stale) != 1 {
		t.Errorf("after an edit: unlisted %v, stale %v; want 2 and 1", s.Unlisted, s.Stale)
	}
}

func TestParseResultsRefuses(t *testing.T) {
	for _, in := range []string{
		`{"files":[{"file_name":"../x.go","mutations":[]}]}`,
		`{"files":[{"file_name":"/x.go","mutations":[]}]}`,
		`{"files":[{"file_name":"a.go","mutations":[{"type":"ARITHMETIC_BASE","status":"DEAD","line":1,"column":1}]}]}`,
		`{"files":[{"file_name":"a.go","mutations":[{"type":"NOPE","status":"KILLED","line":1,"column":1}]}]}`,
		`{"files":[{"file_name":"a.go","mutations":[{"type":"ARITHMETIC_BASE","status":"KILLED","line":0,"column":1}]}]}`,
		`{"files":`,
	} {
		if _, err := ParseResults([]byte(in), "pkg"); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: err = %v, want ErrSyntax", in, err)
		}
	}
}

func FuzzParseResults(f *testing.F) {
	f.Add([]byte(sampleResults))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseResults(data, "pkg")
		if err != nil {
			return
		}
		for _, m := range ms {
			if !strings.HasPrefix(m.Path, "pkg/") || m.Line < 1 || m.Column < 1 {
				t.Fatalf("mutant %+v outside the package or at no position", m)
			}
		}
	})
}

func TestCheckSource(t *testing.T) {
	src := []byte(strings.Join(source, "\n"))
	read := func(path string) ([]byte, error) {
		if path != "pkg/a.go" {
			return nil, os.ErrNotExist
		}
		return src, nil
	}
	for _, tc := range []struct {
		e  Equivalent
		ok bool
	}{
		{Equivalent{Path: "pkg/a.go", Type: "CONDITIONALS_BOUNDARY", Column: 7, Code: "if n > 64 {"}, true},
		{Equivalent{Path: "pkg/a.go", Type: "CONDITIONALS_NEGATION", Column: 7, Code: "if n > 64 {"}, true},
		{Equivalent{Path: "pkg/a.go", Type: "ARITHMETIC_BASE", Column: 12, Code: "return a + b"}, true},
		{Equivalent{Path: "pkg/a.go", Type: "INVERT_NEGATIVES", Column: 9, Code: "return -n"}, true},
		{Equivalent{Path: "pkg/a.go", Type: "INCREMENT_DECREMENT", Column: 3, Code: "n++"}, true},
		// Column on the wrong token, type that does not mutate it, code
		// that is not in the file, a file that is not there.
		{Equivalent{Path: "pkg/a.go", Type: "CONDITIONALS_BOUNDARY", Column: 6, Code: "if n > 64 {"}, false},
		{Equivalent{Path: "pkg/a.go", Type: "ARITHMETIC_BASE", Column: 7, Code: "if n > 64 {"}, false},
		{Equivalent{Path: "pkg/a.go", Type: "CONDITIONALS_BOUNDARY", Column: 7, Code: "if n > 65 {"}, false},
		{Equivalent{Path: "pkg/a.go", Type: "ARITHMETIC_BASE", Column: 99, Code: "return a + b"}, false},
		{Equivalent{Path: "pkg/b.go", Type: "ARITHMETIC_BASE", Column: 12, Code: "return a + b"}, false},
	} {
		errs := CheckSource([]Equivalent{tc.e}, read)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s: errors %v, want ok=%v", tc.e, errs, tc.ok)
		}
	}
}

// TestProjectList checks the project's own list against the code as it
// is: every entry must name a line that is there, with a token of its type
// at its column, so that an edit cannot leave an entry behind unnoticed
// between two runs of make mutate.
func TestProjectList(t *testing.T) {
	root := filepath.Join("..", "..")
	f, err := os.Open(filepath.Join(root, "testdata", "equivalent-mutants.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := ParseEquivalents(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range CheckSource(list, func(path string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
	}) {
		t.Error(err)
	}
}
