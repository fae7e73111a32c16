package ocra

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// rfc4226Truncated is the "Decimal" column of RFC 4226 Appendix D: the
// 31-bit dynamic truncation of HMAC-SHA1("12345678901234567890", counter)
// for counters 0 to 9, before the modulo. A code of d digits is this number
// modulo 10^d, padded with zeros on the left (RFC 4226 section 5.3).
var rfc4226Truncated = []uint64{
	1284755224, 1094287082, 137359152, 1726969429, 1640338314,
	868254676, 1918287922, 82162583, 673399871, 645520489,
}

// TestHOTPEveryLength: codes of 6 to 10 digits are the RFC 4226 Appendix D
// truncated values modulo 10^digits. Ten counters give codes whose first
// digit is not always zero, so a wrong modulus shows.
func TestHOTPEveryLength(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	for digits := 6; digits <= 10; digits++ {
		o, err := NewOTP(SHA1, key, digits)
		if err != nil {
			t.Fatal(err)
		}
		mod := uint64(1)
		for range digits {
			mod *= 10
		}
		for c, v := range rfc4226Truncated {
			want := fmt.Sprintf("%0*d", digits, v%mod)
			if got := o.HOTP(uint64(c)); got != want {
				t.Errorf("%d digits, counter %d: %s, want %s", digits, c, got, want)
			}
		}
	}
}

// refOCRAQN08 is RFC 6287 section 5 written out for the suites
// OCRA-1:HOTP-SHA1-d:QN08 with a question of 8 decimal digits: the message
// is the suite, a zero byte, and the question as a hexadecimal number,
// left-aligned in 128 bytes; the response is the RFC 4226 truncation of its
// HMAC-SHA1 modulo 10^d.
func refOCRAQN08(key []byte, digits int, q uint64) string {
	suite := fmt.Sprintf("OCRA-1:HOTP-SHA1-%d:QN08", digits)
	msg := append([]byte(suite), 0)
	qf := make([]byte, 128)
	hexq := fmt.Sprintf("%x", q)
	if len(hexq)%2 == 1 {
		hexq += "0"
	}
	for i := 0; i < len(hexq); i += 2 {
		fmt.Sscanf(hexq[i:i+2], "%02x", &qf[i/2])
	}
	msg = append(msg, qf...)
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	sum := m.Sum(nil)
	o := sum[19] & 0x0f
	bin := uint64(binary.BigEndian.Uint32(sum[o:]) & 0x7fffffff)
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// TestOCRAEveryLength: responses of 4 to 10 digits against refOCRAQN08,
// which gives the RFC 6287 Appendix C.1 responses for 6 digits.
func TestOCRAEveryLength(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	// RFC 6287 Appendix C.1, OCRA-1:HOTP-SHA1-6:QN08.
	rfc := map[string]string{
		"00000000": "237653", "11111111": "243178", "22222222": "653583", "33333333": "740991", "44444444": "608993",
		"55555555": "388898", "66666666": "816933", "77777777": "224598", "88888888": "750600", "99999999": "294470",
	}
	for q, want := range rfc {
		var n uint64
		fmt.Sscan(q, &n)
		if got := refOCRAQN08(key, 6, n); got != want {
			t.Fatalf("the reference gives %s for %s, RFC 6287 %s", got, q, want)
		}
	}
	questions := []string{"00000000", "11111111", "22222222", "33333333", "44444444", "55555555", "66666666", "77777777", "88888888", "99999999"}
	for digits := 4; digits <= 10; digits++ {
		s, err := ParseSuite(fmt.Sprintf("OCRA-1:HOTP-SHA1-%d:QN08", digits))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range questions {
			var n uint64
			fmt.Sscan(q, &n)
			got, err := Generate(s, key, Input{Challenge: q})
			if err != nil {
				t.Fatal(err)
			}
			if want := refOCRAQN08(key, digits, n); got != want {
				t.Errorf("%s, Q %s: %s, want %s", s, q, got, want)
			}
		}
	}
}

// TestDriftCap: a drift window is HMAC work that the caller's input sets;
// 100 steps either way is allowed, 101 is refused before any work.
func TestDriftCap(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	s := MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08-T30S")
	now := time.Unix(1_700_000_010, 0)
	r, err := Generate(s, key, Input{Challenge: "12345678", Time: now.Add(100 * 30 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Challenge: "12345678", Time: now}
	m, err := Verify(s, key, r, in, Window{Drift: 100})
	if err != nil || m.TimeStep != 1_700_000_010/30+100 {
		t.Errorf("drift 100, response 100 steps ahead: %+v, %v", m, err)
	}
	if _, err := Verify(s, key, r, in, Window{Drift: 99}); !errors.Is(err, ErrMismatch) {
		t.Errorf("drift 99, response 100 steps ahead: %v, want ErrMismatch", err)
	}
	for _, d := range []int{101, 1 << 30, -1} {
		if _, err := Verify(s, key, r, in, Window{Drift: d}); !errors.Is(err, ErrWindow) {
			t.Errorf("drift %d: %v, want ErrWindow", d, err)
		}
	}

	o, err := NewOTP(SHA1, key, 6)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := o.TOTP(now.Add(-100*30*time.Second), 30*time.Second)
	if step, err := o.VerifyTOTP(code, now, 30*time.Second, 100); err != nil || step != 1_700_000_010/30-100 {
		t.Errorf("TOTP drift 100, code 100 steps behind: %d, %v", step, err)
	}
	for _, d := range []int{101, -1} {
		if _, err := o.VerifyTOTP(code, now, 30*time.Second, d); !errors.Is(err, ErrWindow) {
			t.Errorf("TOTP drift %d: %v, want ErrWindow", d, err)
		}
	}
	// The counter window: 1000 after the counter is allowed, 1001 refused.
	c := o.HOTP(1000)
	if m, err := o.VerifyHOTP(c, 0, 1000); err != nil || m != 1000 {
		t.Errorf("HOTP window 1000: %d, %v", m, err)
	}
	if _, err := o.VerifyHOTP(c, 0, 1001); !errors.Is(err, ErrWindow) {
		t.Errorf("HOTP window 1001: %v, want ErrWindow", err)
	}
	cs := MustParseSuite("OCRA-1:HOTP-SHA1-6:C-QN08")
	cr, _ := Generate(cs, key, Input{Challenge: "12345678", Counter: 1000, HasCounter: true})
	cin := Input{Challenge: "12345678", HasCounter: true}
	if m, err := Verify(cs, key, cr, cin, Window{Counter: 1000}); err != nil || m.Counter != 1000 {
		t.Errorf("OCRA counter window 1000: %+v, %v", m, err)
	}
	if _, err := Verify(cs, key, cr, cin, Window{Counter: 1001}); !errors.Is(err, ErrWindow) {
		t.Errorf("OCRA counter window 1001: %v, want ErrWindow", err)
	}
}

// TestTimeStepInstants: a time step begins at its instant exactly; one
// nanosecond before is the step before (RFC 6238 section 4.2: T =
// floor((Current Unix time - T0) / X)), also before 1970.
func TestTimeStepInstants(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		at   time.Time
		step time.Duration
		want int64
	}{
		{time.Unix(1111111110, 0), 30 * time.Second, 37037037},
		{time.Unix(1111111110, 0).Add(-time.Nanosecond), 30 * time.Second, 37037036},
		{time.Unix(1111111110, 0).Add(time.Nanosecond), 30 * time.Second, 37037037},
		{time.Unix(0, 0), 30 * time.Second, 0},
		{time.Unix(0, 0).Add(-time.Nanosecond), 30 * time.Second, -1},
		{time.Unix(-30, 0), 30 * time.Second, -1},
		{time.Unix(-30, 0).Add(-time.Nanosecond), 30 * time.Second, -2},
		{time.Unix(3600, 0), time.Hour, 1},
		{time.Unix(3600, 0).Add(-time.Nanosecond), time.Hour, 0},
		{time.Unix(-3600, 0).Add(time.Nanosecond), time.Hour, -1},
	} {
		if got := TimeStep(c.at, c.step); got != c.want {
			t.Errorf("TimeStep(%v, %v) = %d, want %d", c.at.UTC().Format(time.RFC3339Nano), c.step, got, c.want)
		}
	}

	// RFC 6238 Appendix B: 1111111109 and 1111111111 are on either side
	// of the step that begins at 1111111110.
	key := []byte("12345678901234567890")
	edge := time.Unix(1111111110, 0)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{edge.Add(-time.Nanosecond), "07081804"},
		{edge, "14050471"},
		{edge.Add(time.Nanosecond), "14050471"},
	} {
		got, err := TOTP(SHA1, key, c.at, 30*time.Second, 8)
		if err != nil || got != c.want {
			t.Errorf("TOTP at %s: %s, %v, want %s", c.at.UTC().Format(time.RFC3339Nano), got, err, c.want)
		}
	}
	// A drift window of one step reaches the step before and the step
	// after, to the nanosecond.
	o, _ := NewOTP(SHA1, key, 8)
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{edge.Add(-60*time.Second - time.Nanosecond), false},
		{edge.Add(-60 * time.Second), true},
		{edge.Add(30*time.Second - time.Nanosecond), true},
		{edge.Add(30 * time.Second), false},
	} {
		// "07081804" is the code of the step ending at edge: a clock one
		// step behind or ahead still reaches it.
		_, err := o.VerifyTOTP("07081804", c.at, 30*time.Second, 1)
		if (err == nil) != c.ok {
			t.Errorf("VerifyTOTP of step 37037036 at %s, drift 1: %v, want ok=%v", c.at.UTC().Format(time.RFC3339Nano), err, c.ok)
		}
	}
	s := MustParseSuite("OCRA-1:HOTP-SHA1-8:QN08-T30S")
	r, _ := Generate(s, key, Input{Challenge: "12345678", Time: edge.Add(-time.Nanosecond)})
	for _, c := range []struct {
		at time.Time
		ok bool
	}{
		{edge.Add(-time.Nanosecond), true},
		{edge, false},
		{edge.Add(-30 * time.Second), true},
		{edge.Add(-30*time.Second - time.Nanosecond), false},
	} {
		_, err := Verify(s, key, r, Input{Challenge: "12345678", Time: c.at}, Window{})
		if (err == nil) != c.ok {
			t.Errorf("OCRA T30S response of step 37037036 verified at %s: %v, want ok=%v", c.at.UTC().Format(time.RFC3339Nano), err, c.ok)
		}
	}
}

// TestSearchOrder: a drift window is searched from the likeliest step out
// (0, -1, +1, -2, +2, ...), and the first match is returned, so that a
// code that two steps share counts as the earlier one. HOTP-SHA1 of RFC
// 4226's key gives 468457 for counters 153567 and 153569 (214300 for
// 153568; checked with Python's hmac); the 4-digit OCRA suite below gives
// 6863 for Q 10005568 at the steps either side of 37037037.
func TestSearchOrder(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	o, _ := NewOTP(SHA1, key, 6)
	mid := time.Unix(153568*30, 0)
	if step, err := o.VerifyTOTP("468457", mid, 30*time.Second, 1); err != nil || step != 153567 {
		t.Errorf("VerifyTOTP of a code of steps 153567 and 153569: %d, %v, want 153567", step, err)
	}
	if step, err := o.VerifyTOTP("468457", mid.Add(30*time.Second), 30*time.Second, 1); err != nil || step != 153569 {
		t.Errorf("VerifyTOTP from step 153569: %d, %v, want 153569", step, err)
	}
	s := MustParseSuite("OCRA-1:HOTP-SHA1-4:QN08-T30S")
	edge := time.Unix(1111111110, 0)
	m, err := Verify(s, key, "6863", Input{Challenge: "10005568", Time: edge}, Window{Drift: 1})
	if err != nil || m.TimeStep != 37037036 {
		t.Errorf("OCRA Verify of a response of steps 37037036 and 37037038: %+v, %v, want 37037036", m, err)
	}
	m, err = Verify(s, key, "0382", Input{Challenge: "10005568", Time: edge}, Window{Drift: 1})
	if err != nil || m.TimeStep != 37037037 {
		t.Errorf("OCRA Verify of the current step: %+v, %v", m, err)
	}
	// The far edges of a window: a code as many steps ahead or behind as
	// the drift is found; one more step is not, nor a wrong code.
	for _, d := range []int64{-3, 3} {
		code, _ := o.TOTP(mid.Add(time.Duration(d)*30*time.Second), 30*time.Second)
		if step, err := o.VerifyTOTP(code, mid, 30*time.Second, 3); err != nil || step != 153568+d {
			t.Errorf("VerifyTOTP %+d steps, drift 3: %d, %v", d, step, err)
		}
		if _, err := o.VerifyTOTP(code, mid, 30*time.Second, 2); !errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyTOTP %+d steps, drift 2: %v", d, err)
		}
		r, _ := Generate(s, key, Input{Challenge: "12345678", Time: edge.Add(time.Duration(d) * 30 * time.Second)})
		m, err := Verify(s, key, r, Input{Challenge: "12345678", Time: edge}, Window{Drift: 3})
		if err != nil || m.TimeStep != 37037037+d {
			t.Errorf("OCRA Verify %+d steps, drift 3: %+v, %v", d, m, err)
		}
	}
	if _, err := o.VerifyTOTP("000000", mid, 30*time.Second, 0); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyTOTP of a wrong code: %v", err)
	}
	if step, err := o.VerifyTOTP("214300", mid, 30*time.Second, 0); err != nil || step != 153568 {
		t.Errorf("VerifyTOTP drift 0: %d, %v", step, err)
	}
	// A period of one second is allowed.
	if _, err := o.TOTP(mid, time.Second); err != nil {
		t.Errorf("TOTP with 1 s: %v", err)
	}
	if _, err := o.VerifyTOTP("000000", mid, time.Second, 0); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyTOTP with 1 s: %v", err)
	}
	for _, p := range []time.Duration{0, time.Second - 1, 1500 * time.Millisecond} {
		if _, err := o.VerifyTOTP("000000", mid, p, 0); !errors.Is(err, ErrPeriod) {
			t.Errorf("VerifyTOTP with period %v: %v", p, err)
		}
		if _, err := o.TOTP(mid, p); !errors.Is(err, ErrPeriod) {
			t.Errorf("TOTP with period %v: %v", p, err)
		}
	}
}

// TestHOTPWindow: VerifyHOTP tries counter to counter+window and no
// other; where counter+window passes 2^64 - 1 (the counter is 8 bytes,
// RFC 4226 section 5.1) the window stops there, and never wraps round to
// the codes of counter 0 and after, spent long ago.
func TestHOTPWindow(t *testing.T) {
	t.Parallel()
	o, _ := NewOTP(SHA1, []byte("12345678901234567890"), 6)
	// RFC 4226 Appendix D: 162583 is counter 7.
	if c, err := o.VerifyHOTP("162583", 5, 2); err != nil || c != 7 {
		t.Errorf("VerifyHOTP(counter 7, from 5, window 2) = %d, %v", c, err)
	}
	if _, err := o.VerifyHOTP("162583", 8, 5); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyHOTP(counter 7, from 8) = %v", err)
	}
	if _, err := o.VerifyHOTP("162583", 4, 2); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyHOTP(counter 7, from 4, window 2) = %v", err)
	}
	const top = ^uint64(0)
	for _, c := range []struct {
		from, window, at uint64
	}{
		{top, 0, top},
		{top - 5, 5, top},
		{top - 2, 5, top - 1},
	} {
		code := o.HOTP(c.at)
		if got, err := o.VerifyHOTP(code, c.from, c.window); err != nil || got != c.at {
			t.Errorf("VerifyHOTP(counter %d, from %d, window %d) = %d, %v", c.at, c.from, c.window, got, err)
		}
	}
	for _, c := range []struct{ from, window, at uint64 }{{top - 2, 5, 2}, {top, 1, 0}, {top, 3, 1}} {
		if got, err := o.VerifyHOTP(o.HOTP(c.at), c.from, c.window); !errors.Is(err, ErrMismatch) {
			t.Errorf("VerifyHOTP(counter %d, from %d, window %d) = %d, %v; want no wrap round", c.at, c.from, c.window, got, err)
		}
	}
	// A window that ends at 2^64 - 1 and holds no match ends.
	if _, err := o.VerifyHOTP("000000"[:5]+"x", top-3, 3); !errors.Is(err, ErrMismatch) {
		t.Errorf("VerifyHOTP to 2^64-1 without a match: %v", err)
	}
}

// TestInputEdges: inputs at the edges of what a suite takes.
func TestInputEdges(t *testing.T) {
	t.Parallel()
	key := []byte("12345678901234567890")
	// Suite texts: a challenge length ending in 9, digits that are not
	// digits, and the 128-byte cap on the text.
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"OCRA-1:HOTP-SHA1-6:QN09", true},
		{"OCRA-1:HOTP-SHA1-6:QN19", true},
		{"OCRA-1:HOTP-SHA1-6:QN90", false},
		{"OCRA-1:HOTP-SHA1-x:QN08", false},
		{"OCRA-1:HOTP-SHA1-6:QN08-T1xM", false},
		{"OCRA-1:HOTP-SHA1-6:QN0/", false},
		{"OCRA-1:HOTP-SHA1-6:QN/8", false},
	} {
		_, err := ParseSuite(c.text)
		if (err == nil) != c.ok {
			t.Errorf("ParseSuite(%q) = %v, want ok=%v", c.text, err, c.ok)
		}
	}
	// The reason names the rule broken: 90 is two digits, out of range.
	for text, reason := range map[string]string{
		"OCRA-1:HOTP-SHA1-6:QN90": "challenge length must be 04 to 64",
		"OCRA-1:HOTP-SHA1-6:QN99": "challenge length must be 04 to 64",
		"OCRA-1:HOTP-SHA1-6:QN/0": "challenge length must be two digits",
		"OCRA-1:HOTP-SHA1-6:QN0;": "challenge length must be two digits",
	} {
		var se *SuiteError
		if _, err := ParseSuite(text); !errors.As(err, &se) || se.Reason != reason {
			t.Errorf("ParseSuite(%q) = %v, want the reason %q", text, err, reason)
		}
	}
	for _, n := range []int{127, 128, 129} {
		text := "OCRA-1:HOTP-SHA1-6:QN08-" + strings.Repeat("x", n-24)
		_, err := ParseSuite(text)
		var se *SuiteError
		if !errors.As(err, &se) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if tooLong := se.Reason == "too long"; tooLong != (n > 128) {
			t.Errorf("a suite of %d bytes: %q", n, se.Reason)
		}
	}

	// A session as long as the suite's S field is taken, one byte more
	// is not.
	s := MustParseSuite("OCRA-1:HOTP-SHA1-6:QN08-S064")
	if _, err := Generate(s, key, Input{Challenge: "12345678", Session: make([]byte, 64)}); err != nil {
		t.Errorf("a 64-byte session in S064: %v", err)
	}
	if _, err := Generate(s, key, Input{Challenge: "12345678", Session: make([]byte, 65)}); !errors.Is(err, ErrSessionTooLong) {
		t.Errorf("a 65-byte session in S064: %v", err)
	}

	// Hexadecimal challenges take 0-9, a-f, A-F and nothing else;
	// alphanumeric ones printable ASCII from '!' to '~'.
	h := MustParseSuite("OCRA-1:HOTP-SHA1-6:QH08")
	for _, c := range []struct {
		q  string
		ok bool
	}{
		{"09afAF90", true}, {"99999999", true}, {"0000000g", false}, {"0000000G", false}, {"0000000:", false}, {"0000000/", false}, {"0000000`", false}, {"0000000@", false},
	} {
		_, err := Generate(h, key, Input{Challenge: c.q})
		if (err == nil) != c.ok {
			t.Errorf("QH08 challenge %q: %v, want ok=%v", c.q, err, c.ok)
		}
	}
	a := MustParseSuite("OCRA-1:HOTP-SHA1-6:QA08")
	for _, c := range []struct {
		q  string
		ok bool
	}{
		{"!!!!~~~~", true}, {"!!!! ~~~", false}, {"!!!!\x7f~~~", false}, {"!!!!\x80~~~", false}, {"!!!!\xff~~~", false},
	} {
		_, err := Generate(a, key, Input{Challenge: c.q})
		if (err == nil) != c.ok {
			t.Errorf("QA08 challenge %q: %v, want ok=%v", c.q, err, c.ok)
		}
	}

	// Numeric questions that take the long way (over 19 digits, or two
	// challenges) are checked digit by digit too.
	q64 := MustParseSuite("OCRA-1:HOTP-SHA1-8:QN64")
	for _, in := range []Input{
		{Challenge: "1234567890123456789a"},
		{Challenge: "12345678901234567890123/"},
		{Challenge: "1234", PeerChallenge: "123:"},
		{Challenge: "12x4", PeerChallenge: "1234"},
	} {
		if _, err := Generate(q64, key, in); !errors.Is(err, ErrChallengeFormat) {
			t.Errorf("QN64 %q %q: %v, want ErrChallengeFormat", in.Challenge, in.PeerChallenge, err)
		}
	}

	// Mutual-mode numeric questions beyond 19 digits against the
	// reference: all zeros, and a number whose first byte is 0x10 (an
	// even count of hex digits): 16·2^64 = 295147905179352825856.
	n := MustParseSuite("OCRA-1:HOTP-SHA1-8:QN64")
	for _, q := range [][2]string{
		{"0000000000", "0000000000"},
		{"29514790517", "9352825856"},
		{"29514790517", "9352825855"},
		{"0000000000000000000", "0001"},
	} {
		in := Input{Challenge: q[0], PeerChallenge: q[1]}
		got, err := Generate(n, key, in)
		if err != nil {
			t.Fatal(err)
		}
		if want := reference(t, n, key, in); got != want {
			t.Errorf("Q=%s%s: %s, reference %s", q[0], q[1], got, want)
		}
	}
}
