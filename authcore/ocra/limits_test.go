package ocra

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
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
