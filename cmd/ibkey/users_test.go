package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ibkey/authcore/ocra"
)

// vaultCLI runs the built ibkey against one vault folder, with the file
// secret store (no test touches a real keyring).
type vaultCLI struct {
	t     *testing.T
	bin   string
	vault string
}

type vaultRun struct {
	stdout, stderr string
	code           int
}

func buildIBKey(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ibkey")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (c vaultCLI) run(stdin string, args ...string) vaultRun {
	c.t.Helper()
	cmd := exec.Command(c.bin, append([]string{"--vault", c.vault}, args...)...)
	cmd.Env = append(os.Environ(), "IBKEY_SECRET_STORE=file", "IBKEY_VAULT=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := vaultRun{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return r
}

// ok runs a command that must succeed quietly and returns its stdout lines.
func (c vaultCLI) ok(stdin string, args ...string) []string {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 || r.stderr != "" {
		c.t.Fatalf("ibkey %v: exit %d, stderr %q", args, r.code, r.stderr)
	}
	if r.stdout == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
}

// fails runs a command that must fail with one line "ibkey: ..." that
// contains want, and nothing on stdout.
func (c vaultCLI) fails(want, stdin string, args ...string) {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code == 0 {
		c.t.Fatalf("ibkey %v: exit 0, want failure", args)
	}
	if !strings.HasPrefix(r.stderr, "ibkey: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		c.t.Fatalf("ibkey %v: stderr %q, want one line starting with \"ibkey: \"", args, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		c.t.Fatalf("ibkey %v: stderr %q does not say %q", args, r.stderr, want)
	}
	if out := strings.TrimPrefix(strings.TrimPrefix(r.stdout, "PIN>\n"), "CHALLNG>\n"); out != "" {
		c.t.Fatalf("ibkey %v: stdout %q on failure (beyond the card's prompts)", args, r.stdout)
	}
}

const (
	cliKey       = "3132333435363738393031323334353637383930313233343536373839303132"
	cliSuite     = "OCRA-1:HOTP-SHA256-8:QN06"
	cliCardSuite = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
)

func cliWant(t *testing.T, suite, challenge, pin string) string {
	t.Helper()
	key := []byte("12345678901234567890123456789012")
	r, err := ocra.Generate(ocra.MustParseSuite(suite), key, ocra.Input{Challenge: challenge, PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVaultCLI(t *testing.T) {
	bin := buildIBKey(t)
	newCLI := func(t *testing.T) vaultCLI {
		return vaultCLI{t: t, bin: bin, vault: filepath.Join(t.TempDir(), "vault")}
	}

	t.Run("flow", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		if got := c.ok("", "users", "list"); got != nil {
			t.Fatalf("fresh vault lists %q", got)
		}
		c.ok("2468\n2468\n", "users", "import", "--name", "alice", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
		c.ok("", "users", "import", "--name", "card", "--suite", cliCardSuite, "--key", cliKey, "--accept-weak-key") // a card asks no PIN
		got := c.ok("", "users", "list")
		want := []string{"alice\t\t\tpin", "card\t\t\tcard"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("users list = %q, want %q", got, want)
		}
		w := cliWant(t, cliSuite, "123456", "")
		if r := c.ok("2468\n", "respond", "--user", "alice", "--challenge", "123 456"); len(r) != 1 || r[0] != w {
			t.Fatalf("respond = %q, want %q", r, w)
		}
		// A wrong PIN is not refused: it gives a wrong response.
		if r := c.ok("8642\n", "respond", "--user", "alice", "--challenge", "123456"); len(r) != 1 || r[0] == w || len(r[0]) != 8 {
			t.Fatalf("respond with a wrong PIN = %q", r)
		}
		// The card: PIN>, CHALLNG>, the response last.
		wc := cliWant(t, cliCardSuite, "654321", "1234")
		out := c.ok("1234\n654321\n", "dsc")
		if len(out) != 3 || out[0] != "PIN>" || out[1] != "CHALLNG>" || out[2] != wc {
			t.Fatalf("dsc = %q, want PIN>, CHALLNG>, %s", out, wc)
		}
		if out := c.ok("1234\n654321\n", "dsc", "--user", "card"); out[len(out)-1] != wc {
			t.Fatalf("dsc --user card = %q", out)
		}
		// respond works for the card too, the PIN being its input.
		if r := c.ok("1234\n", "respond", "--user", "card", "--challenge", "654321"); r[0] != wc {
			t.Fatalf("respond for the card = %q, want %s", r, wc)
		}
		c.ok("", "users", "remove", "alice")
		if got := c.ok("", "users", "list"); len(got) != 1 || got[0] != "card\t\t\tcard" {
			t.Fatalf("after remove: %q", got)
		}
		for _, p := range []string{c.vault, filepath.Join(c.vault, "vault.ibk"), filepath.Join(c.vault, "secrets")} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m&0o077 != 0 {
				t.Errorf("%s: mode %o open to others", p, m)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		c.fails("no such user", "", "dsc") // no card yet
		c.ok("2468\n2468\n", "users", "import", "--name", "alice", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
		imp := func(name, suite, key string) []string {
			return []string{"users", "import", "--name", name, "--suite", suite, "--key", key, "--accept-weak-key"}
		}
		c.fails("exists", "2468\n2468\n", imp("alice", cliSuite, cliKey)...)
		c.fails("differ", "2468\n2469\n", imp("bob", cliSuite, cliKey)...)
		c.fails("too easy", "1234\n1234\n", imp("bob", cliSuite, cliKey)...)
		c.fails("4 to 6", "12\n12\n", imp("bob", cliSuite, cliKey)...)
		c.fails("no input", "", imp("bob", cliSuite, cliKey)...)
		c.fails("hexadecimal", "2468\n2468\n", imp("bob", cliSuite, "xyz")...)
		c.fails("invalid suite", "2468\n2468\n", imp("bob", "OCRA-2:nope", cliKey)...)
		c.fails("name", "2468\n2468\n", "users", "import", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
		c.fails("name", "2468\n2468\n", imp("a\tb", cliSuite, cliKey)...)
		c.fails("--gate", "", append(imp("bob", cliSuite, cliKey), "--gate", "face")...)
		// A key that does not look random is refused, and says why, unless
		// the person takes the risk.
		for key, why := range map[string]string{
			cliKey:                                     "every byte is printable ASCII",
			"00112233445566778899aabbccddee":           "it is shorter than 16 bytes",
			strings.Repeat("00ff", 16):                 "its bytes repeat too much",
			"3132333435363738393031323334353637383930": "every byte is printable ASCII", // RFC 4226's
		} {
			c.fails("does not look random: "+why, "2468\n2468\n", "users", "import", "--name", "weak", "--suite", cliSuite, "--key", key)
		}
		c.fails("--accept-weak-key", "2468\n2468\n", "users", "import", "--name", "weak", "--suite", cliSuite, "--key", cliKey)
		random := make([]byte, 32)
		rand.Read(random)
		c.ok("2468\n2468\n", "users", "import", "--name", "strong", "--suite", cliSuite, "--key", hex.EncodeToString(random))
		c.fails("no such user", "2468\n", "respond", "--user", "nobody", "--challenge", "123456")
		c.fails("format", "2468\n", "respond", "--user", "alice", "--challenge", "12ab56")
		c.fails("too long", "2468\n", "respond", "--user", "alice", "--challenge", "1234567")
		c.fails("--challenge", "2468\n", "respond", "--user", "alice")
		c.fails("no input", "", "respond", "--user", "alice", "--challenge", "123456")
		c.fails("not a card", "1234\n123456\n", "dsc", "--user", "alice")
		c.fails("no such user", "", "users", "remove", "nobody")
		c.fails("one NAME", "", "users", "remove")
		c.fails("unknown subcommand", "", "users", "frob")
		c.ok("", "users", "import", "--name", "card", "--suite", cliCardSuite, "--key", cliKey, "--accept-weak-key")
		c.fails("no PIN", "", "dsc")
		c.fails("no challenge", "1234\n", "dsc")
		c.fails("format", "1234\nabcdef\n", "dsc")
		c.fails("4 to 6", "12\n123456\n", "dsc")
	})

	t.Run("damaged vault", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		c.ok("2468\n2468\n", "users", "import", "--name", "alice", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
		path := filepath.Join(c.vault, "vault.ibk")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		bad[len(bad)-1] ^= 1
		os.WriteFile(path, bad, 0o600)
		c.fails("damaged", "", "users", "list")
		c.fails("damaged", "2468\n2468\n", "users", "import", "--name", "bob", "--suite", cliSuite, "--key", cliKey, "--accept-weak-key")
		c.fails("damaged", "2468\n", "respond", "--user", "alice", "--challenge", "123456")
		if got, _ := os.ReadFile(path); !bytes.Equal(got, bad) {
			t.Fatal("the damaged file was changed")
		}
	})

	t.Run("secret store choice", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		cmd := exec.Command(c.bin, "--vault", c.vault, "users", "list")
		cmd.Env = append(os.Environ(), "IBKEY_SECRET_STORE=bogus")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.HasPrefix(string(out), "ibkey: ") || strings.Count(string(out), "\n") != 1 {
			t.Fatalf("IBKEY_SECRET_STORE=bogus: %v, %q", err, out)
		}
		// IBKEY_VAULT is --vault.
		cmd = exec.Command(c.bin, "users", "list")
		cmd.Env = append(os.Environ(), "IBKEY_SECRET_STORE=file", "IBKEY_VAULT="+c.vault)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("IBKEY_VAULT: %v, %q", err, out)
		}
		if _, err := os.Stat(filepath.Join(c.vault, "vault.ibk")); err != nil {
			t.Fatal("IBKEY_VAULT not used: ", err)
		}
	})
}

func TestWeakKey(t *testing.T) {
	for _, c := range []struct {
		key  string
		weak bool
	}{
		{cliKey, true},
		{"3132333435363738393031323334353637383930", true},
		{"000102030405060708090a0b0c0d0e", true},    // 15 bytes
		{strings.Repeat("00", 32), true},            // one value
		{strings.Repeat("deadbeef", 8), true},       // a 4-byte pattern
		{"000102030405060708090a0b0c0d0e0f", false}, // distinct bytes: the simple estimate passes a counter
		{"8f1b2e9d4c7a6035e1f2d3c4b5a69788", false},
	} {
		key, _ := hex.DecodeString(c.key)
		if why := weakKey(key); (why != "") != c.weak {
			t.Errorf("weakKey(%s) = %q, want weak %v", c.key, why, c.weak)
		}
	}
	// Random keys of 16 and 32 bytes are never refused.
	for _, n := range []int{16, 20, 32, 64} {
		for range 2000 {
			key := make([]byte, n)
			rand.Read(key)
			if why := weakKey(key); why != "" {
				t.Fatalf("a random %d-byte key %x: %s", n, key, why)
			}
		}
	}
}
