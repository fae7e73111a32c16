package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"text/tabwriter"

	"ibkey/internal/mutation"
)

type config struct {
	list  string
	goals goals
	runs  []string // FOLDER:RESULTS.json
}

type goal struct {
	dir     string
	below   bool // dir/...: the folder and those below it
	percent float64
}

type goals []goal

func (g *goals) String() string { return fmt.Sprint(*g) }

func (g *goals) Set(s string) error {
	dir, pct, ok := strings.Cut(s, "=")
	p, err := strconv.ParseFloat(pct, 64)
	if !ok || err != nil || p < 0 || p > 100 || dir == "" {
		return errors.New("want FOLDER=PERCENT")
	}
	gl := goal{dir: dir, percent: p}
	if d, ok := strings.CutSuffix(dir, "/..."); ok {
		gl.dir, gl.below = d, true
	}
	*g = append(*g, gl)
	return nil
}

// of returns the goal of the package in dir: the last -goal that names it.
func (g goals) of(dir string) (float64, bool) {
	pct, found := 0.0, false
	for _, gl := range g {
		if dir == gl.dir || gl.below && strings.HasPrefix(dir, gl.dir+"/") {
			pct, found = gl.percent, true
		}
	}
	return pct, found
}

// errFailed says that the run fell short; the report says how.
var errFailed = errors.New("the run falls short of the list or a goal (see above)")

func run(c config, root fs.FS, out io.Writer) error {
	listData, err := fs.ReadFile(root, c.list)
	if err != nil {
		return err
	}
	list, err := mutation.ParseEquivalents(bytes.NewReader(listData))
	if err != nil {
		return fmt.Errorf("%s: %w", c.list, err)
	}
	var mutants []mutation.Mutant
	for _, r := range c.runs {
		dir, file, ok := strings.Cut(r, ":")
		if !ok {
			return fmt.Errorf("%q: want FOLDER:RESULTS.json", r)
		}
		data, err := fs.ReadFile(root, file)
		if err != nil {
			return err
		}
		ms, err := mutation.ParseResults(data, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		mutants = append(mutants, ms...)
	}
	lines := make(map[string][]string)
	line := func(path string, n int) (string, error) {
		l, ok := lines[path]
		if !ok {
			src, err := fs.ReadFile(root, path)
			if err != nil {
				return "", err
			}
			l = strings.Split(string(src), "\n")
			lines[path] = l
		}
		if n > len(l) {
			return "", fmt.Errorf("no line %d", n)
		}
		return l[n-1], nil
	}
	sum, err := mutation.Summarize(mutants, list, line)
	if err != nil {
		return err
	}
	failed := false
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "package\tmutants\tkilled\tlived\tequivalent\tnot covered\ttimed out\tnot viable\tefficacy\tscore\tcoverage\tgoal\t")
	for _, p := range sum.Packages {
		verdict := "-"
		if g, ok := c.goals.of(p.Dir); ok {
			verdict = fmt.Sprintf("%.0f%% ok", g)
			if p.Score() < g {
				verdict = fmt.Sprintf("%.0f%% SHORT", g)
				failed = true
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%s\t\n",
			p.Dir, p.Total, p.Killed, p.Lived, p.Equivalent, p.NotCovered, p.TimedOut, p.NotViable, p.Efficacy(), p.Score(), p.Coverage(), verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(sum.Unlisted) > 0 {
		failed = true
		fmt.Fprintf(out, "\n%d living mutants are not in %s: kill each with a test, or list it with the reason it is equivalent:\n", len(sum.Unlisted), c.list)
		for _, m := range sum.Unlisted {
			text, _ := line(m.Path, m.Line)
			fmt.Fprintf(out, "%s %s %d\n\tcode: %s\n", m.Path, m.Type, m.Column, strings.TrimSpace(text))
		}
	}
	if len(sum.Stale) > 0 {
		failed = true
		fmt.Fprintf(out, "\n%d entries of %s match no living mutant (killed now, or their line changed): remove or update them:\n", len(sum.Stale), c.list)
		for _, e := range sum.Stale {
			fmt.Fprintf(out, "line %d: %s\n", e.At, e)
		}
	}
	if failed {
		return errFailed
	}
	return nil
}
