package portal

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pages is a browser-like client of the Client Portal pages on a harness's
// service: it keeps cookies, does not follow redirects, and sends the CSRF
// token of the last page it read.
type pages struct {
	t      *testing.T
	h      *harness
	client *http.Client
	csrf   string
}

type page struct {
	status   int
	location string
	body     string
}

var (
	pageCSRF      = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	pageChallenge = regexp.MustCompile(`id="challenge"[^>]*>([0-9 ]+)<`)
)

func newPages(t *testing.T, h *harness) *pages {
	jar, _ := cookiejar.New(nil)
	c := *h.ts.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &pages{t: t, h: h, client: &c}
}

func (p *pages) do(req *http.Request) page {
	p.t.Helper()
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	pg := page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: html.UnescapeString(string(b))}
	if m := pageCSRF.FindStringSubmatch(string(b)); m != nil {
		p.csrf = m[1]
	}
	return pg
}

func (p *pages) get(path string) page {
	p.t.Helper()
	req, _ := http.NewRequest("GET", p.h.ts.URL+path, nil)
	return p.do(req)
}

func (p *pages) post(path string, form url.Values) page {
	p.t.Helper()
	form.Set("csrf", p.csrf)
	req, _ := http.NewRequest("POST", p.h.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return p.do(req)
}

func (p *pages) challenge(pg page) string {
	p.t.Helper()
	m := pageChallenge.FindStringSubmatch(pg.body)
	if m == nil {
		p.t.Fatalf("no challenge on the page (%d):\n%s", pg.status, pg.body)
	}
	return strings.ReplaceAll(m[1], " ", "")
}

// login logs in by challenge/response with d's secret.
func (p *pages) login(username, password string, d *device) {
	p.t.Helper()
	p.get("/login")
	if r := p.post("/login", url.Values{"username": {username}, "password": {password}}); r.location != "/login/verify" {
		p.t.Fatalf("login of %s: %d %s\n%s", username, r.status, r.location, r.body)
	}
	v := p.get("/login/verify")
	if r := p.post("/login/verify", url.Values{"response": {d.respond(p.t, p.challenge(v))}}); r.location != "/account" {
		p.t.Fatalf("response of %s: %d %s\n%s", username, r.status, r.location, r.body)
	}
}
