package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestOCRACommandVectors runs `ibkey ocra` on every row of RFC 6287
// Appendix C (testdata/rfc6287.tsv).
func TestOCRACommandVectors(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../testdata/rfc6287.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		args := []string{"ocra", "--suite", c[1], "--key", c[2]}
		if c[3] != "" {
			args = append(args, "--counter", c[3])
		}
		if q := c[4]; len(q) == 16 && strings.Contains(c[1], "QA08") {
			// RFC 6287 section 7.3: the mutual mode's two challenges.
			args = append(args, "--challenge", q[:8], "--challenge", q[8:])
		} else {
			args = append(args, "--challenge", q)
		}
		if c[5] != "" {
			args = append(args, "--pin", c[5])
		}
		if c[7] != "" {
			steps, _ := strconv.ParseInt(c[7], 16, 64)
			args = append(args, "--time", strconv.FormatInt(steps*60, 10)) // the vectors' T is in minutes
		}
		r := runIbkey(t, "", nil, args...)
		if r.code != 0 || r.stdout != c[8]+"\n" || r.stderr != "" {
			t.Errorf("ibkey %s: exit %d, stdout %q, stderr %q; want %s", strings.Join(args, " "), r.code, r.stdout, r.stderr, c[8])
		}
		n++
	}
	if n != 70 {
		t.Fatalf("ran %d vectors, want 70", n)
	}
}

func TestOTPCommands(t *testing.T) {
	t.Parallel()
	key := fmt.Sprintf("%x", "12345678901234567890")
	key32 := fmt.Sprintf("%x", "12345678901234567890123456789012")
	for _, c := range []struct {
		args []string
		want string
	}{
		// RFC 4226 Appendix D.
		{[]string{"hotp", "--key", key, "--counter", "0"}, "755224"},
		{[]string{"hotp", "--key", key, "--counter", "9"}, "520489"},
		// RFC 6238 Appendix B.
		{[]string{"totp", "--key", key, "--time", "59", "--digits", "8"}, "94287082"},
		{[]string{"totp", "--key", key32, "--time", "1111111109", "--digits", "8", "--algorithm", "SHA256"}, "68084774"},
		{[]string{"totp", "--key", key32, "--time", "20000000000", "--digits", "8", "--algorithm", "sha256", "--period", "30"}, "77737706"},
		// OCRA with a session, hex left-padded to S064.
		{[]string{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QH40-S064", "--key", key, "--challenge", "abc123", "--session", "1"}, ""},
	} {
		r := runIbkey(t, "", nil, c.args...)
		if r.code != 0 || r.stderr != "" || (c.want != "" && r.stdout != c.want+"\n") || len(r.stdout) < 7 {
			t.Errorf("ibkey %s: exit %d, stdout %q, stderr %q; want %s", strings.Join(c.args, " "), r.code, r.stdout, r.stderr, c.want)
		}
	}
	// A session given as "1" and as "0001" is the same session.
	a := runIbkey(t, "", nil, "ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S002", "--key", key, "--challenge", "1234", "--session", "1")
	b := runIbkey(t, "", nil, "ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S002", "--key", key, "--challenge", "1234", "--session", "0001")
	if a.code != 0 || a.stdout != b.stdout {
		t.Errorf("session padding: %q vs %q (%s)", a.stdout, b.stdout, a.stderr)
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	key := "3132333435363738393031323334353637383930"
	suite := "OCRA-1:HOTP-SHA1-6:QN08"
	for _, args := range [][]string{
		{},
		{"nosuch"},
		{"ocra"},
		{"ocra", "--suite", suite},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN65", "--key", key, "--challenge", "1234"},
		{"ocra", "--suite", suite, "--key", "xyz", "--challenge", "1234"},
		{"ocra", "--suite", suite, "--key", "123", "--challenge", "1234"},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "123456789"},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "123"},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "12ab"},
		{"ocra", "--suite", suite, "--key", key},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "1234", "--counter", "1"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", key, "--challenge", "1234"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:C-QN08", "--key", key, "--challenge", "1234", "--counter", "-1"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-PSHA1", "--key", key, "--challenge", "1234"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-T1M", "--key", key, "--challenge", "1234"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-T1M", "--key", key, "--challenge", "1234", "--time", "soon"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S002", "--key", key, "--challenge", "1234", "--session", "010203"},
		{"ocra", "--suite", "OCRA-1:HOTP-SHA1-6:QN08-S002", "--key", key, "--challenge", "1234", "--session", "zz"},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "1234", "extra"},
		{"ocra", "--suite", suite, "--key", key, "--challenge", "1234", "--bogus"},
		{"hotp", "--key", key},
		{"hotp", "--key", key, "--counter", "1", "--digits", "5"},
		{"hotp", "--key", key, "--counter", "1", "--algorithm", "MD5"},
		{"hotp", "--counter", "1"},
		{"totp", "--key", key},
		{"totp", "--key", key, "--time", "59", "--period", "0"},
		{"totp", "--key", key, "--time", "-5"},
	} {
		wantFailure(t, runIbkey(t, "", nil, args...), args)
	}
}
