// Command mutants sums up a mutation-testing run (make mutate,
// docs/TESTING.md): for each package the mutants gremlins made, how many
// the tests killed and how many lived, the living ones held against the
// list of equivalent mutants, gremlins' efficacy and the mutation score
// (the listed equivalents set aside) against its goal. It fails on a
// living mutant that is not listed, on a listed one that no longer lives,
// and on a score under its goal.
//
//	go run ./cmd/mutants -list testdata/equivalent-mutants.txt -goal 'authcore/...=95' authcore/ocra:build/mutate/authcore_ocra.json
//
// Each argument is a package's folder, from the module root, and the JSON
// gremlins wrote for it (gremlins unleash -o FILE ./folder). Run it from
// the module root.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var c config
	flag.StringVar(&c.list, "list", "testdata/equivalent-mutants.txt", "the list of equivalent mutants")
	flag.Var(&c.goals, "goal", "`FOLDER=PERCENT`: the mutation score a package must reach; FOLDER/... covers the folders below (repeatable)")
	flag.Parse()
	c.runs = flag.Args()
	if len(c.runs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: mutants [-list FILE] [-goal FOLDER=PERCENT]... FOLDER:RESULTS.json...")
		os.Exit(2)
	}
	if err := run(c, os.DirFS("."), os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "mutants: %v\n", err)
		os.Exit(1)
	}
}
