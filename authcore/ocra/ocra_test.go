package ocra

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vector is one row of testdata/rfc6287.tsv.
type vector struct {
	line                   int
	section, suite         string
	key                    []byte
	counter                string
	question, pin, session string
	timeHex, response      string
}

func loadOCRAVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open("../../testdata/rfc6287.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 9 {
			t.Fatalf("rfc6287.tsv:%d: %d columns, want 9", n, len(c))
		}
		key, err := hex.DecodeString(c[2])
		if err != nil {
			t.Fatalf("rfc6287.tsv:%d: key: %v", n, err)
		}
		vs = append(vs, vector{n, c[0], c[1], key, c[3], c[4], c[5], c[6], c[7], c[8]})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

// input turns a vector's columns into an Input. A question longer than the
// suite's xx is the mutual mode of RFC 6287 section 7.3, QC || QS: the
// vectors of Appendix C.2 give the two challenges concatenated.
func (v vector) input(t testing.TB, s Suite) Input {
	t.Helper()
	var in Input
	_, max := s.Challenge()
	if len(v.question) > max {
		h := len(v.question) / 2
		in.Challenge, in.PeerChallenge = v.question[:h], v.question[h:]
	} else {
		in.Challenge = v.question
	}
	if v.counter != "" {
		c, err := strconv.ParseUint(v.counter, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		in.Counter, in.HasCounter = c, true
	}
	in.PIN = v.pin
	if v.session != "" {
		b, err := hex.DecodeString(v.session)
		if err != nil {
			t.Fatal(err)
		}
		in.Session = b
	}
	if v.timeHex != "" {
		steps, err := strconv.ParseInt(v.timeHex, 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		in.Time = time.Unix(steps*int64(s.TimeStep()/time.Second), 0)
	}
	return in
}

func TestRFC6287Vectors(t *testing.T) {
	t.Parallel()
	vs := loadOCRAVectors(t)
	if len(vs) != 70 {
		t.Fatalf("loaded %d vectors, want the 70 of RFC 6287 Appendix C", len(vs))
	}
	for _, v := range vs {
		t.Run(v.section+"/"+strconv.Itoa(v.line), func(t *testing.T) {
			t.Parallel()
			s, err := ParseSuite(v.suite)
			if err != nil {
				t.Fatal(err)
			}
			in := v.input(t, s)
			got, err := Generate(s, v.key, in)
			if err != nil {
				t.Fatalf("%s %+v: %v", v.suite, in, err)
			}
			if got != v.response {
				t.Fatalf("%s Q=%s: got %s, want %s", v.suite, v.question, got, v.response)
			}
			if got := reference(t, s, v.key, in); got != v.response {
				t.Fatalf("reference implementation: got %s, want %s", got, v.response)
			}
			m, err := Verify(s, v.key, v.response, in, Window{})
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if s.Counter() && m.Counter != in.Counter {
				t.Fatalf("Verify matched counter %d, want %d", m.Counter, in.Counter)
			}
		})
	}
}

// reference computes OCRA as RFC 6287's Java reference does, with math/big
// and a fresh HMAC: an independent check of Generate's message layout.
func reference(t testing.TB, s Suite, key []byte, in Input) string {
	t.Helper()
	msg := append([]byte(s.String()), 0)
	if s.Counter() {
		msg = append(msg, big.NewInt(0).SetUint64(in.Counter).FillBytes(make([]byte, 8))...)
	}
	q := in.Challenge + in.PeerChallenge
	f, _ := s.Challenge()
	var qhex string
	switch f {
	case Numeric:
		n, ok := new(big.Int).SetString(q, 10)
		if !ok {
			t.Fatalf("reference: bad number %q", q)
		}
		qhex = n.Text(16)
	case Alphabetic:
		qhex = hex.EncodeToString([]byte(q))
	case Hexadecimal:
		qhex = q
	}
	qhex += strings.Repeat("0", 256-len(qhex))
	qb, err := hex.DecodeString(qhex)
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	msg = append(msg, qb...)
	if h := s.PIN(); h != 0 {
		d := h.New()
		d.Write([]byte(in.PIN))
		msg = d.Sum(msg)
	}
	if n := s.Session(); n != 0 {
		msg = append(msg, make([]byte, n-len(in.Session))...)
		msg = append(msg, in.Session...)
	}
	if st := s.TimeStep(); st != 0 {
		msg = append(msg, big.NewInt(TimeStep(in.Time, st)).FillBytes(make([]byte, 8))...)
	}
	m := hmac.New(s.Hash().New, key)
	m.Write(msg)
	return string(appendCode(nil, m.Sum(nil), s.Digits()))
}

func TestSuiteRoundTrip(t *testing.T) {
	t.Parallel()
	// Suites of RFC 6287 section 6.3 and Appendix C, and of TiQR (plain S).
	for _, text := range []string{
		"OCRA-1:HOTP-SHA1-6:QN08",
		"OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
		"OCRA-1:HOTP-SHA512-8:QN08-T1M",
		"OCRA-1:HOTP-SHA256-8:QA08",
		"OCRA-1:HOTP-SHA512-8:QA10-T1M",
		"OCRA-1:HOTP-SHA1-4:QH08-S512",
		"OCRA-1:HOTP-SHA256-6:C-QA64",
		"OCRA-1:HOTP-SHA1-0:QH40-S",
		"OCRA-1:HOTP-SHA1-6:QH40-S064",
		"OCRA-1:HOTP-SHA1-10:C-QN04-PSHA512-S001-T59S",
		"OCRA-1:HOTP-SHA1-6:QN06-T48H",
		"OCRA-1:HOTP-SHA256-8:QH40-S032",
	} {
		s, err := ParseSuite(text)
		if err != nil {
			t.Errorf("ParseSuite(%q): %v", text, err)
			continue
		}
		if s.String() != text {
			t.Errorf("String() = %q, want %q", s.String(), text)
		}
		var back Suite
		if err := back.UnmarshalText([]byte(s.String())); err != nil || back != s {
			t.Errorf("UnmarshalText(%q) = %+v, %v", text, back, err)
		}
	}
	s := MustParseSuite("OCRA-1:HOTP-SHA1-0:QH40-S")
	if s.Session() != 64 {
		t.Errorf("plain S: session %d bytes, want 64", s.Session())
	}
}

func TestParseSuiteErrors(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"",
		"OCRA-1",
		"OCRA-2:HOTP-SHA1-6:QN08",
		"ocra-1:HOTP-SHA1-6:QN08",
		"OCRA-1:HOTP-MD5-6:QN08",
		"OCRA-1:TOTP-SHA1-6:QN08",
		"OCRA-1:HOTP-SHA1-3:QN08",
		"OCRA-1:HOTP-SHA1-11:QN08",
		"OCRA-1:HOTP-SHA1-06:QN08",
		"OCRA-1:HOTP-SHA1-6:",
		"OCRA-1:HOTP-SHA1-6:C",
		"OCRA-1:HOTP-SHA1-6:QX08",
		"OCRA-1:HOTP-SHA1-6:QN03",
		"OCRA-1:HOTP-SHA1-6:QN65",
		"OCRA-1:HOTP-SHA1-6:QN8",
		"OCRA-1:HOTP-SHA1-6:QN008",
		"OCRA-1:HOTP-SHA1-6:QN08-C",
		"OCRA-1:HOTP-SHA1-6:QN08-P",
		"OCRA-1:HOTP-SHA1-6:QN08-PMD5",
		"OCRA-1:HOTP-SHA1-6:QN08-S000",
		"OCRA-1:HOTP-SHA1-6:QN08-S513",
		"OCRA-1:HOTP-SHA1-6:QN08-S64",
		"OCRA-1:HOTP-SHA1-6:QN08-T",
		"OCRA-1:HOTP-SHA1-6:QN08-T0M",
		"OCRA-1:HOTP-SHA1-6:QN08-T60S",
		"OCRA-1:HOTP-SHA1-6:QN08-T49H",
		"OCRA-1:HOTP-SHA1-6:QN08-T01M",
		"OCRA-1:HOTP-SHA1-6:QN08-T1D",
		"OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1",
		"OCRA-1:HOTP-SHA1-6:QN08-T1M-S064",
		"OCRA-1:HOTP-SHA1-6:QN08-PSHA1-PSHA1",
		"OCRA-1:HOTP-SHA1-6:C-C-QN08",
		"OCRA-1:HOTP-SHA1-6:QN08:",
		"OCRA-1:HOTP-SHA1-6:QN08-",
		"OCRA-1:HOTP-SHA1-6:QN08" + strings.Repeat("-", 200),
	} {
		_, err := ParseSuite(text)
		var se *SuiteError
		if !errors.Is(err, ErrSuite) || !errors.As(err, &se) {
			t.Errorf("ParseSuite(%q) = %v, want a *SuiteError", text, err)
		}
	}
}

func TestInputErrors(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	q := func(s string) Input { return Input{Challenge: s} }
	for _, c := range []struct {
		suite string
		key   []byte
		in    Input
		want  error
	}{
		{"OCRA-1:HOTP-SHA1-6:QN08", key, q("123456789"), ErrChallengeTooLong},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, q("123"), ErrChallengeTooShort},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, q("1234a678"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, q("1234 678"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QH08", key, q("12g45678"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QA08", key, q("ab cd"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QA08", key, q("abc\x00"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QA08", key, q("abcdé"), ErrChallengeFormat},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{}, ErrMissingChallenge},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{Challenge: "1234", PeerChallenge: "123456789"}, ErrChallengeTooLong},
		{"OCRA-1:HOTP-SHA1-6:QN08", nil, q("12345678"), ErrEmptyKey},
		{"OCRA-1:HOTP-SHA1-6:C-QN08", key, q("12345678"), ErrMissingCounter},
		{"OCRA-1:HOTP-SHA1-6:QN08-PSHA1", key, q("12345678"), ErrMissingPIN},
		{"OCRA-1:HOTP-SHA1-6:QN08-PSHA1", key, Input{Challenge: "1234", PINHash: []byte{1}}, ErrPINHashSize},
		{"OCRA-1:HOTP-SHA1-6:QN08-T1M", key, q("12345678"), ErrMissingTime},
		{"OCRA-1:HOTP-SHA1-6:QN08-S002", key, Input{Challenge: "1234", Session: []byte{1, 2, 3}}, ErrSessionTooLong},
		{"OCRA-1:HOTP-SHA1-6:QN08-S002", key, q("1234"), ErrMissingSession},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{Challenge: "1234", HasCounter: true}, ErrUnexpectedInput},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{Challenge: "1234", PIN: "1"}, ErrUnexpectedInput},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{Challenge: "1234", Session: []byte{1}}, ErrUnexpectedInput},
		{"OCRA-1:HOTP-SHA1-6:QN08", key, Input{Challenge: "1234", Time: time.Unix(0, 0)}, ErrUnexpectedInput},
	} {
		_, err := Generate(MustParseSuite(c.suite), c.key, c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("%s %+v: got %v, want %v", c.suite, c.in, err, c.want)
		}
	}
	if _, err := Generate(Suite{}, key, q("1234")); !errors.Is(err, ErrSuite) {
		t.Errorf("zero Suite: got %v, want ErrSuite", err)
	}
}

func TestVerifyWindows(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	s := MustParseSuite("OCRA-1:HOTP-SHA1-6:C-QN08-T30S")
	now := time.Unix(1_700_000_000, 0)
	g, err := NewGenerator(s, key)
	if err != nil {
		t.Fatal(err)
	}
	// The device is at counter 7 and its clock 2 steps ahead.
	r, err := g.Generate(Input{Challenge: "12345678", Counter: 7, HasCounter: true, Time: now.Add(61 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Challenge: "12345678", Counter: 4, HasCounter: true, Time: now}
	m, err := g.Verify(r, in, Window{Counter: 3, Drift: 2})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := TimeStep(now, 30*time.Second) + 2; m.Counter != 7 || m.TimeStep != want {
		t.Errorf("Verify = %+v, want counter 7, step %d", m, want)
	}
	for _, w := range []Window{{Counter: 2, Drift: 2}, {Counter: 3, Drift: 1}, {}} {
		if _, err := g.Verify(r, in, w); !errors.Is(err, ErrMismatch) {
			t.Errorf("window %+v: got %v, want ErrMismatch", w, err)
		}
	}
	if _, err := g.Verify(r, in, Window{Counter: MaxCounterWindow + 1}); !errors.Is(err, ErrWindow) {
		t.Errorf("huge window: got %v, want ErrWindow", err)
	}
	if _, err := g.Verify(r[:5], in, Window{Counter: 3, Drift: 2}); !errors.Is(err, ErrMismatch) {
		t.Errorf("short response: got %v, want ErrMismatch", err)
	}
}

func TestNumericQuestionEncoding(t *testing.T) {
	t.Parallel()
	// Leading zeros, odd and even hex lengths, the largest numbers, and
	// the mutual mode's 128 digits, against math/big.
	key := []byte("k")
	for _, q := range []string{
		"0000", "0001", "0015", "0016", "0255", "0256", "4095", "4096",
		"99999999", strings.Repeat("9", 64), "1" + strings.Repeat("0", 63),
	} {
		s := MustParseSuite("OCRA-1:HOTP-SHA1-8:QN64")
		in := Input{Challenge: q, PeerChallenge: q}
		got, err := Generate(s, key, in)
		if err != nil {
			t.Fatal(err)
		}
		if want := reference(t, s, key, in); got != want {
			t.Errorf("Q=%s: got %s, reference %s", q, got, want)
		}
	}
}

func TestNoTruncation(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	s := MustParseSuite("OCRA-1:HOTP-SHA1-0:QN08")
	got, err := Generate(s, key, Input{Challenge: "12345678"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*sha1.Size {
		t.Fatalf("digits 0: %q, want the whole HMAC in hex", got)
	}
	if want := reference(t, s, key, Input{Challenge: "12345678"}); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestGenerateDoesNotAllocate(t *testing.T) {
	g, err := NewGenerator(MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08"), []byte("12345678901234567890"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 16)
	in := Input{Challenge: "12345678"}
	if n := testing.AllocsPerRun(100, func() { g.Append(buf[:0], in) }); n != 0 {
		t.Errorf("Append allocates %v times per call, want 0", n)
	}
}

// TestGeneratorReuse: a Generator reused for questions of every length and
// format must answer as a fresh one does (no bytes left from the last one).
func TestGeneratorReuse(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	questions := map[string][]string{
		"OCRA-1:HOTP-SHA1-8:QN64": {strings.Repeat("9", 64), "0001", strings.Repeat("8", 20), "1234", strings.Repeat("7", 19)},
		"OCRA-1:HOTP-SHA1-8:QH64": {strings.Repeat("f", 64), "abc1", strings.Repeat("E", 33), "0000"},
		"OCRA-1:HOTP-SHA1-8:QA64": {strings.Repeat("z", 64), "SIG1", strings.Repeat("~", 40), "!!!!"},
	}
	for suite, qs := range questions {
		s := MustParseSuite(suite)
		g, err := NewGenerator(s, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range append(qs, qs...) {
			for _, in := range []Input{{Challenge: q}, {Challenge: q, PeerChallenge: q}} {
				got, err := g.Generate(in)
				if err != nil {
					t.Fatalf("%s %q: %v", suite, q, err)
				}
				if want := reference(t, s, key, in); got != want {
					t.Fatalf("%s %q after other questions: got %s, want %s", suite, q, got, want)
				}
			}
		}
	}
}
