package ocra

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOTPVectors checks every row of testdata/rfc4226-rfc6238.tsv: RFC 4226
// Appendix D and RFC 6238 Appendix B.
func TestOTPVectors(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../testdata/rfc4226-rfc6238.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	rows := 0
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 6 {
			t.Fatalf("line %d: %d columns, want 6", n, len(c))
		}
		rows++
		h, err := ParseHash(c[1])
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		key := []byte(c[2])
		v, _ := strconv.ParseInt(c[3], 10, 64)
		digits, _ := strconv.Atoi(c[4])
		o, err := NewOTP(h, key, digits)
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		var got string
		switch c[0] {
		case "RFC4226":
			got = o.HOTP(uint64(v))
			if m, err := o.VerifyHOTP(c[5], 0, 9); err != nil || m != uint64(v) {
				t.Errorf("line %d: VerifyHOTP = %d, %v", n, m, err)
			}
		case "RFC6238":
			got, err = TOTP(h, key, time.Unix(v, 0), 30*time.Second, digits)
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			step, err := o.VerifyTOTP(c[5], time.Unix(v+30, 0), 30*time.Second, 1)
			if err != nil || step != v/30 {
				t.Errorf("line %d: VerifyTOTP = %d, %v", n, step, err)
			}
		default:
			t.Fatalf("line %d: unknown source %q", n, c[0])
		}
		if got != c[5] {
			t.Errorf("line %d (%s %s %d): got %s, want %s", n, c[0], c[1], v, got, c[5])
		}
	}
	if rows != 28 {
		t.Errorf("checked %d rows, want the 10 of RFC 4226 and 18 of RFC 6238", rows)
	}
}

func TestOTPErrors(t *testing.T) {
	t.Parallel()
	if _, err := NewOTP(SHA1, nil, 6); !errors.Is(err, ErrEmptyKey) {
		t.Errorf("empty key: %v", err)
	}
	for _, d := range []int{0, 5, 11} {
		if _, err := NewOTP(SHA1, []byte("k"), d); !errors.Is(err, ErrDigits) {
			t.Errorf("digits %d: %v", d, err)
		}
	}
	if _, err := NewOTP(Hash(9), []byte("k"), 6); !errors.Is(err, ErrSuite) {
		t.Errorf("bad hash: %v", err)
	}
	o, _ := NewOTP(SHA1, []byte("k"), 6)
	if _, err := o.TOTP(time.Now(), 1500*time.Millisecond); !errors.Is(err, ErrPeriod) {
		t.Errorf("fractional period: %v", err)
	}
	if _, err := o.VerifyHOTP("000000", 0, MaxCounterWindow+1); !errors.Is(err, ErrWindow) {
		t.Errorf("huge window: %v", err)
	}
}
