package protocol

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEnrollLink(t *testing.T) {
	t.Parallel()
	const sid = "K7QF2MZPXW3D9HJT"
	for _, c := range []struct {
		in, service, session string
	}{
		{"ibkey://enroll?service=https%3A%2F%2Fibkey.example&session=" + sid, "https://ibkey.example", sid},
		{"ibkey://enroll?session=" + sid + "&service=http%3A%2F%2F127.0.0.1%3A8080%2F", "http://127.0.0.1:8080", sid},
		{"  ibkey://enroll?service=https%3A%2F%2Fibkey.example%2Fsvc&session=k7qf-2mzp-xw3d-9hjt\n", "https://ibkey.example/svc", sid},
		{"IBKEY://enroll?service=https%3A%2F%2Fibkey.example&session=" + sid, "https://ibkey.example", sid},
		{"ibkey:enroll?service=https%3A%2F%2Fibkey.example&session=" + sid, "https://ibkey.example", sid},
		{"https://ibkey.example/enroll?session=" + sid, "https://ibkey.example", sid},
		{"https://ibkey.example:8443/ib/enroll?session=K7QF-2MZP-XW3D-9HJT", "https://ibkey.example:8443/ib", sid},
		{"http://[::1]:8080/enroll?session=" + sid, "http://[::1]:8080", sid},
		{"K7QF-2MZP-XW3D-9HJT", "", sid},
		{"k7qf 2mzp xw3d 9hjt", "", sid},
		{"K7QF2MZPXW3D9HJT", "", sid},
		// O is read as 0, I and L as 1.
		{"OOOO-IIII-LLLL-0000", "", "0000111111110000"},
	} {
		svc, s, err := ParseEnrollLink(c.in)
		if err != nil || svc != c.service || s != c.session {
			t.Errorf("ParseEnrollLink(%q) = %q, %q, %v; want %q, %q", c.in, svc, s, err, c.service, c.session)
		}
	}
	for _, in := range []string{
		"",
		"K7QF-2MZP-XW3D",                // too short
		"K7QF-2MZP-XW3D-9HJT-A",         // too long
		"K7QF-2MZP-XW3D-9HJU",           // U is not in the alphabet
		"K7QF-2MZP-XW3D-9HJ!",           // punctuation
		"K7QF-2MZP-XW3D-9HJÉ",           // not ASCII
		"ibkey://enroll?session=" + sid, // no service
		"ibkey://enroll?service=ftp%3A%2F%2Fx&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2F&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2Fu%3Ap%40x&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2Fx%3Fa%3Db&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2Fx&session=" + sid + "&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2Fx&session=" + sid + "&extra=1",
		"ibkey://other?service=https%3A%2F%2Fx&session=" + sid,
		"ibkey://enroll/x?service=https%3A%2F%2Fx&session=" + sid,
		"ibkey://enroll?service=https%3A%2F%2Fx&session=" + sid + "#frag",
		"https://ibkey.example/login?session=" + sid,
		"https://ibkey.example/enroll?session=" + sid + "&service=https%3A%2F%2Fevil",
		"https://ibkey.example/enroll",
		"mailto:enroll?session=" + sid,
		"https://u@ibkey.example/enroll?session=" + sid,
		strings.Repeat("K", 5000),
	} {
		if svc, s, err := ParseEnrollLink(in); !errors.Is(err, ErrBadLink) {
			t.Errorf("ParseEnrollLink(%q) = %q, %q, %v; want ErrBadLink", in, svc, s, err)
		}
	}
}

func TestEnrollLinkRoundTrip(t *testing.T) {
	t.Parallel()
	link := EnrollLink("https://ibkey.example:8443/a b", "K7QF2MZPXW3D9HJT")
	if !strings.HasPrefix(link, "ibkey://enroll?") {
		t.Fatalf("link %q", link)
	}
	// A space in the service is refused by the parser: links only carry
	// URLs as a URL parser writes them.
	if _, _, err := ParseEnrollLink(link); err == nil {
		t.Fatalf("ParseEnrollLink(%q) took a service with a space", link)
	}
	link = EnrollLink("https://ibkey.example:8443/a", "K7QF2MZPXW3D9HJT")
	svc, s, err := ParseEnrollLink(link)
	if err != nil || svc != "https://ibkey.example:8443/a" || s != "K7QF2MZPXW3D9HJT" {
		t.Fatalf("%q: %q %q %v", link, svc, s, err)
	}
	if got := FormatSessionID(s); got != "K7QF-2MZP-XW3D-9HJT" {
		t.Fatalf("FormatSessionID = %q", got)
	}
}

// FuzzParseEnrollLink round-trips: what parses is written again with
// EnrollLink (or FormatSessionID) and parses to the same service and
// session.
func FuzzParseEnrollLink(f *testing.F) {
	for _, s := range []string{
		"ibkey://enroll?service=https%3A%2F%2Fibkey.example&session=K7QF2MZPXW3D9HJT",
		"https://ibkey.example:8443/ib/enroll?session=K7QF-2MZP-XW3D-9HJT",
		"http://127.0.0.1:8080/enroll?session=0000111111110000",
		"k7qf 2mzp xw3d 9hjt",
		"ibkey:enroll?service=http%3A%2F%2F%5B%3A%3A1%5D%3A1&session=ZZZZZZZZZZZZZZZZ",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		svc, s, err := ParseEnrollLink(in)
		if err != nil {
			if !errors.Is(err, ErrBadLink) {
				t.Fatalf("error %v is not ErrBadLink", err)
			}
			return
		}
		if len(s) != SessionIDLen || strings.Trim(s, SessionAlphabet) != "" {
			t.Fatalf("session %q is not canonical", s)
		}
		again := FormatSessionID(s)
		if svc != "" {
			again = EnrollLink(svc, s)
		}
		svc2, s2, err := ParseEnrollLink(again)
		if err != nil || svc2 != svc || s2 != s {
			t.Fatalf("%q -> %q: %q %q %v, want %q %q", in, again, svc2, s2, err, svc, s)
		}
	})
}

// TestLinkLengthCaps: a typed Session ID is read up to 64 bytes (16
// characters and their separators), a link up to 2048 bytes.
func TestLinkLengthCaps(t *testing.T) {
	t.Parallel()
	const sid = "K7QF2MZPXW3D9HJT"
	for n, ok := range map[int]bool{64: true, 65: false} {
		in := sid + strings.Repeat("-", n-len(sid))
		if s, err := NormalizeSessionID(in); (err == nil) != ok || (ok && s != sid) {
			t.Errorf("a Session ID in %d bytes: %q, %v, want ok=%v", n, s, err, ok)
		}
	}
	for n, ok := range map[int]bool{2048: true, 2049: false} {
		head, tail := "ibkey://enroll?session="+sid+"&service=https%3A%2F%2Fib.example%2F", ""
		link := head + strings.Repeat("a", n-len(head)-len(tail)) + tail
		svc, s, err := ParseEnrollLink(link)
		if (err == nil) != ok || (ok && (s != sid || !strings.HasPrefix(svc, "https://ib.example/aaa"))) {
			t.Errorf("a link of %d bytes: %q %q, %v, want ok=%v", len(link), svc, s, err, ok)
		}
	}
}
