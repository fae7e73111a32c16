package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

// env is what a command reads and writes: the process's streams, and the
// global options that come before the command's name.
type env struct {
	stdin  io.Reader
	lines  *bufio.Reader // stdin read line by line when it is not a terminal
	ttyFD  int           // stdin's descriptor when it is a terminal, else -1
	stdout io.Writer
	stderr io.Writer
	vault  string // --vault DIR, or IBKEY_VAULT
}

func newEnv(stdin *os.File, stdout, stderr io.Writer) *env {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, ttyFD: -1}
	if term.IsTerminal(int(stdin.Fd())) {
		e.ttyFD = int(stdin.Fd())
	}
	return e
}

// command is one of ibkey's subcommands.
type command struct {
	usage string
	run   func(e *env, args []string) error
}

// commands maps each subcommand's name to it. Each file of this package
// registers its own commands here.
var commands = map[string]command{}

// errUsage asks run to print the command's usage; the message says why.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func run(args []string, e *env) int {
	global := flag.NewFlagSet("ibkey", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&e.vault, "vault", os.Getenv("IBKEY_VAULT"), "the vault's folder")
	if err := global.Parse(args); err != nil {
		return fail(e, usagef("%v", err))
	}
	args = global.Args()
	if len(args) == 0 {
		return fail(e, usagef("missing command (see ibkey help)"))
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(e.stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		return fail(e, usagef("unknown command %q (see ibkey help)", args[0]))
	}
	if err := c.run(e, args[1:]); err != nil {
		return fail(e, err)
	}
	return 0
}

func fail(e *env, err error) int {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "ibkey: ")
	// One line: the first line of the message.
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	fmt.Fprintf(e.stderr, "ibkey: %s\n", msg)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: ibkey [--vault DIR] COMMAND [options]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  ibkey %s\n", commands[n].usage)
	}
}

// flags returns a flag set for a command whose errors come back as usage
// errors rather than being printed.
func flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parse parses a command's flags and refuses stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// readSecret reads a password or PIN: from the terminal without echo, with
// prompt on stderr, or as the next line of stdin when stdin is not a
// terminal.
func (e *env) readSecret(prompt string) (string, error) {
	if e.ttyFD >= 0 {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(e.ttyFD)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("read %s: %w", strings.TrimSuffix(strings.ToLower(prompt), ": "), err)
		}
		return string(b), nil
	}
	return e.readLine(prompt)
}

// readLine reads the next line of input: from the terminal with prompt, or
// from stdin.
func (e *env) readLine(prompt string) (string, error) {
	if e.ttyFD >= 0 {
		fmt.Fprint(e.stderr, prompt)
	}
	if e.lines == nil {
		e.lines = bufio.NewReaderSize(e.stdin, 4096)
	}
	line, err := e.lines.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		if err == io.EOF {
			return "", fmt.Errorf("%s: no input", strings.TrimSuffix(strings.ToLower(prompt), ": "))
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
