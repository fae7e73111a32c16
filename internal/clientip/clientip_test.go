package clientip

import (
	"net/http/httptest"
	"testing"
)

func TestIP(t *testing.T) {
	r, err := Parse("10.0.0.0/8, 192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"direct, header ignored", "203.0.113.5:4000", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", "10.1.2.3:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "192.0.2.7:80", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"two headers", "192.0.2.7:80", []string{"198.51.100.1", "10.9.9.9"}, "198.51.100.1"},
		{"forged start", "10.1.2.3:80", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"all trusted", "10.1.2.3:80", []string{"10.2.2.2"}, "10.2.2.2"},
		{"no header", "10.1.2.3:80", nil, "10.1.2.3"},
		{"damaged", "10.1.2.3:80", []string{"198.51.100.1, junk"}, "10.1.2.3"},
		{"v6", "[2001:db8::9]:80", []string{"2001:db8:ffff::1, 2606:4700::1"}, "2606:4700::1"},
		{"mapped", "10.1.2.3:80", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.peer
		for _, h := range c.xff {
			req.Header.Add("X-Forwarded-For", h)
		}
		if got := r.IP(req); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if got := (Resolver{}).IP(req); got != Peer(req) {
			t.Errorf("%s, no proxy trusted: %q", c.name, got)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "1.2.3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) took it", bad)
		}
	}
	if r, err := Parse(""); err != nil || r.Trusts() {
		t.Errorf("empty list: %v %v", r, err)
	}
}
