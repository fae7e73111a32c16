// Package mutation reads the results of a mutation-testing run (the JSON
// that gremlins writes with -o) and the project's list of equivalent
// mutants, and sums them up per package: how many mutants the tests killed,
// how many lived, and which of the living are listed as equivalent, with
// the reason, so that an efficacy figure stays honest as the code changes.
//
// # The list of equivalent mutants
//
// A mutant is equivalent when no test can tell it from the original: the
// program behaves the same. Each entry names the file (from the module
// root), gremlins' mutator type and the column of the mutated token, then
// the line's code, trimmed, and the reason:
//
//	authcore/ocra/ocra.go CONDITIONALS_BOUNDARY 17
//		code: if len(b) > 64 {
//		why: b is at most 64 bytes here because ...
//		     (the reason may go on, indented)
//
// An entry matches a mutant by file, type, column and the text of the
// mutant's line, not by line number, so that it survives edits elsewhere
// in the file and goes stale when its own line changes. Lines starting
// with # and blank lines are comments.
package mutation

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Statuses of a mutant, as gremlins reports them.
const (
	Killed     = "KILLED"
	Lived      = "LIVED"
	NotCovered = "NOT COVERED"
	TimedOut   = "TIMED OUT"
	NotViable  = "NOT VIABLE"
	Skipped    = "SKIPPED"
	Runnable   = "RUNNABLE"
)

var statuses = map[string]bool{Killed: true, Lived: true, NotCovered: true, TimedOut: true, NotViable: true, Skipped: true, Runnable: true}

// tokens are the Go tokens that gremlins v0.6.0 mutates, by mutator type
// (its internal/engine/mappings.go).
var tokens = map[string][]token.Token{
	"ARITHMETIC_BASE":         {token.ADD, token.SUB, token.MUL, token.QUO, token.REM},
	"CONDITIONALS_BOUNDARY":   {token.GTR, token.GEQ, token.LSS, token.LEQ},
	"CONDITIONALS_NEGATION":   {token.EQL, token.NEQ, token.GTR, token.GEQ, token.LSS, token.LEQ},
	"INCREMENT_DECREMENT":     {token.INC, token.DEC},
	"INVERT_ASSIGNMENTS":      {token.ADD_ASSIGN, token.SUB_ASSIGN, token.MUL_ASSIGN, token.QUO_ASSIGN, token.REM_ASSIGN},
	"INVERT_BITWISE":          {token.AND, token.OR, token.XOR, token.AND_NOT, token.SHL, token.SHR},
	"INVERT_BWASSIGN":         {token.AND_ASSIGN, token.OR_ASSIGN, token.XOR_ASSIGN, token.AND_NOT_ASSIGN, token.SHL_ASSIGN, token.SHR_ASSIGN},
	"INVERT_LOGICAL":          {token.LAND, token.LOR},
	"INVERT_LOOPCTRL":         {token.BREAK, token.CONTINUE},
	"INVERT_NEGATIVES":        {token.SUB},
	"REMOVE_SELF_ASSIGNMENTS": {token.ADD_ASSIGN, token.SUB_ASSIGN, token.MUL_ASSIGN, token.QUO_ASSIGN, token.REM_ASSIGN, token.AND_ASSIGN, token.OR_ASSIGN, token.XOR_ASSIGN, token.AND_NOT_ASSIGN, token.SHL_ASSIGN, token.SHR_ASSIGN},
}

// maxLine bounds a line of the list, and of a source file read for it.
const maxLine = 4096

// ErrSyntax reports a list of equivalent mutants or a results file that
// cannot be read.
var ErrSyntax = errors.New("mutation: syntax error")

// A Mutant is one mutation and what the tests made of it.
type Mutant struct {
	Path   string // the file, from the module root, with slashes
	Line   int
	Column int
	Type   string // gremlins' mutator type, such as CONDITIONALS_BOUNDARY
	Status string // Killed, Lived, ...
}

func (m Mutant) String() string {
	return fmt.Sprintf("%s:%d:%d %s", m.Path, m.Line, m.Column, m.Type)
}

// An Equivalent is an entry of the list of equivalent mutants.
type Equivalent struct {
	Path   string
	Type   string
	Column int
	Code   string // the mutant's line, trimmed
	Why    string
	At     int // the entry's line in the list
}

func (e Equivalent) String() string {
	return fmt.Sprintf("%s %s %d (%q)", e.Path, e.Type, e.Column, e.Code)
}

// ParseEquivalents reads a list of equivalent mutants.
func ParseEquivalents(r io.Reader) ([]Equivalent, error) {
	var list []Equivalent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), maxLine)
	n := 0
	var cur *Equivalent
	field := ""
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrSyntax, n, fmt.Sprintf(format, args...))
	}
	finish := func() error {
		if cur == nil {
			return nil
		}
		if cur.Code == "" || cur.Why == "" {
			return fmt.Errorf("%w: line %d: entry needs a code: and a why: line", ErrSyntax, cur.At)
		}
		list = append(list, *cur)
		cur = nil
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			if err := finish(); err != nil {
				return nil, err
			}
		case line[0] != ' ' && line[0] != '\t':
			if err := finish(); err != nil {
				return nil, err
			}
			f := strings.Fields(line)
			if len(f) != 3 {
				return nil, fail("want: PATH MUTATOR COLUMN")
			}
			if _, ok := tokens[f[1]]; !ok {
				return nil, fail("unknown mutator type %q", f[1])
			}
			col, err := strconv.Atoi(f[2])
			if err != nil || col < 1 || col > maxLine {
				return nil, fail("bad column %q", f[2])
			}
			if p := path.Clean(f[0]); p != f[0] || path.IsAbs(p) || strings.HasPrefix(p, "../") || p == ".." || !strings.HasSuffix(p, ".go") {
				return nil, fail("path %q is not a clean .go path inside the module", f[0])
			}
			cur = &Equivalent{Path: f[0], Type: f[1], Column: col, At: n}
			field = ""
		case cur == nil:
			return nil, fail("indented line outside an entry")
		case strings.HasPrefix(trimmed, "code:"):
			if cur.Code != "" {
				return nil, fail("second code: line")
			}
			cur.Code = strings.TrimSpace(strings.TrimPrefix(trimmed, "code:"))
			if cur.Code == "" {
				return nil, fail("empty code:")
			}
			field = "code"
		case strings.HasPrefix(trimmed, "why:"):
			if cur.Why != "" {
				return nil, fail("second why: line")
			}
			cur.Why = strings.TrimSpace(strings.TrimPrefix(trimmed, "why:"))
			if cur.Why == "" {
				return nil, fail("empty why:")
			}
			field = "why"
		case field == "why":
			cur.Why += " " + trimmed
		default:
			return nil, fail("want code: or why:")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrSyntax, n+1, err)
	}
	if err := finish(); err != nil {
		return nil, err
	}
	seen := make(map[string]int)
	for _, e := range list {
		k := e.String()
		if at, ok := seen[k]; ok {
			return nil, fmt.Errorf("%w: line %d: the same entry as line %d", ErrSyntax, e.At, at)
		}
		seen[k] = e.At
	}
	return list, nil
}

// FormatEquivalents writes list in the form ParseEquivalents reads.
func FormatEquivalents(w io.Writer, list []Equivalent) error {
	for _, e := range list {
		if _, err := fmt.Fprintf(w, "%s %s %d\n\tcode: %s\n\twhy: %s\n\n", e.Path, e.Type, e.Column, e.Code, e.Why); err != nil {
			return err
		}
	}
	return nil
}

type results struct {
	Files []struct {
		Name      string `json:"file_name"`
		Mutations []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"mutations"`
	} `json:"files"`
}

// ParseResults reads the JSON results of gremlins run on the package in
// dir (from the module root, with slashes): gremlins names the files from
// the folder it was given.
func ParseResults(data []byte, dir string) ([]Mutant, error) {
	var r results
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: results: %v", ErrSyntax, err)
	}
	var out []Mutant
	for _, f := range r.Files {
		p := path.Join(dir, f.Name)
		if n := path.Clean(f.Name); f.Name == "" || path.IsAbs(n) || n == ".." || strings.HasPrefix(n, "../") {
			return nil, fmt.Errorf("%w: results: file %q outside %s", ErrSyntax, f.Name, dir)
		}
		for _, m := range f.Mutations {
			if !statuses[m.Status] {
				return nil, fmt.Errorf("%w: results: %s: unknown status %q", ErrSyntax, p, m.Status)
			}
			if _, ok := tokens[m.Type]; !ok {
				return nil, fmt.Errorf("%w: results: %s: unknown mutator type %q", ErrSyntax, p, m.Type)
			}
			if m.Line < 1 || m.Column < 1 {
				return nil, fmt.Errorf("%w: results: %s: bad position %d:%d", ErrSyntax, p, m.Line, m.Column)
			}
			out = append(out, Mutant{Path: p, Line: m.Line, Column: m.Column, Type: m.Type, Status: m.Status})
		}
	}
	return out, nil
}

// A Package sums up the mutants of one package.
type Package struct {
	Dir                              string
	Total, Killed, Lived, Equivalent int
	NotCovered, TimedOut, NotViable  int
}

// Efficacy is gremlins' figure: the share of the mutants run that the
// tests killed, in percent (100 when none was run).
func (p Package) Efficacy() float64 {
	if p.Killed+p.Lived == 0 {
		return 100
	}
	return 100 * float64(p.Killed) / float64(p.Killed+p.Lived)
}

// Score is the mutation score: the share of the mutants run that the
// tests killed once the listed equivalents are set aside, since no test
// can kill those (100 when none is left).
func (p Package) Score() float64 {
	if p.Killed+p.Lived-p.Equivalent == 0 {
		return 100
	}
	return 100 * float64(p.Killed) / float64(p.Killed+p.Lived-p.Equivalent)
}

// Coverage is the share of all mutants that the tests reach, in percent.
func (p Package) Coverage() float64 {
	if p.Total == 0 {
		return 100
	}
	return 100 * float64(p.Killed+p.Lived) / float64(p.Total)
}

// A Summary is the outcome of a run against the list.
type Summary struct {
	Packages []Package
	Unlisted []Mutant     // lived, and not in the list
	Stale    []Equivalent // in a package that was run, but no living mutant matches
}

// Summarize sums up mutants per package and holds the living ones against
// list. line returns the text of a line of a file, as the run saw it.
func Summarize(mutants []Mutant, list []Equivalent, line func(path string, n int) (string, error)) (Summary, error) {
	byDir := make(map[string]*Package)
	used := make([]bool, len(list))
	var s Summary
	for _, m := range mutants {
		dir := path.Dir(m.Path)
		p := byDir[dir]
		if p == nil {
			p = &Package{Dir: dir}
			byDir[dir] = p
		}
		p.Total++
		switch m.Status {
		case Killed:
			p.Killed++
		case Lived:
			p.Lived++
			text, err := line(m.Path, m.Line)
			if err != nil {
				return Summary{}, fmt.Errorf("mutation: %s: %w", m, err)
			}
			text = strings.TrimSpace(text)
			listed := false
			for i, e := range list {
				if e.Path == m.Path && e.Type == m.Type && e.Column == m.Column && e.Code == text {
					used[i] = true
					listed = true
				}
			}
			if listed {
				p.Equivalent++
			} else {
				s.Unlisted = append(s.Unlisted, m)
			}
		case NotCovered, Skipped, Runnable:
			p.NotCovered++
		case TimedOut:
			p.TimedOut++
		case NotViable:
			p.NotViable++
		}
	}
	for i, e := range list {
		if !used[i] && byDir[path.Dir(e.Path)] != nil {
			s.Stale = append(s.Stale, e)
		}
	}
	for _, p := range byDir {
		s.Packages = append(s.Packages, *p)
	}
	sort.Slice(s.Packages, func(i, j int) bool { return s.Packages[i].Dir < s.Packages[j].Dir })
	return s, nil
}

// CheckSource reports each entry of list whose code is not a line of its
// file with a token that its mutator type mutates at its column: an entry
// that the code has left behind. read returns a file's content.
func CheckSource(list []Equivalent, read func(path string) ([]byte, error)) []error {
	var errs []error
	files := make(map[string]map[int][]token.Token) // path -> line -> token by column
	lines := make(map[string][]string)
	for _, e := range list {
		byLine, ok := files[e.Path]
		if !ok {
			src, err := read(e.Path)
			if err != nil {
				errs = append(errs, fmt.Errorf("mutation: list line %d: %w", e.At, err))
				files[e.Path] = nil
				continue
			}
			byLine, lines[e.Path] = scan(e.Path, src)
			files[e.Path] = byLine
		}
		if byLine == nil {
			continue
		}
		found := false
		for i, l := range lines[e.Path] {
			if strings.TrimSpace(l) != e.Code {
				continue
			}
			cols := byLine[i+1]
			if e.Column < len(cols) {
				for _, t := range tokens[e.Type] {
					if cols[e.Column] == t {
						found = true
					}
				}
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("mutation: list line %d: %s: no line %q with a %s token at column %d", e.At, e.Path, e.Code, e.Type, e.Column))
		}
	}
	return errs
}

// scan returns, for each line of a Go file, its tokens by column (1-based),
// and the file's lines.
func scan(name string, src []byte) (map[int][]token.Token, []string) {
	fset := token.NewFileSet()
	file := fset.AddFile(name, -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0)
	byLine := make(map[int][]token.Token)
	for {
		pos, tok, _ := s.Scan()
		if tok == token.EOF {
			break
		}
		p := fset.Position(pos)
		cols := byLine[p.Line]
		for len(cols) <= p.Column {
			cols = append(cols, token.ILLEGAL)
		}
		cols[p.Column] = tok
		byLine[p.Line] = cols
	}
	return byLine, strings.Split(string(src), "\n")
}
