package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
	"ibkey/internal/pgtest"
	"ibkey/portal/core"
)

// pg is the PostgreSQL server of the tests of several instances.
var pg pgtest.Shared

// cluster is several `ibkey serve` processes on one PostgreSQL database
// with one key file: one service.
type cluster struct {
	t       *testing.T
	bin     string
	dir     string
	db      string
	keyFile string
	outbox  string
	env     []string
	logs    *lockedBuffer
	procs   []*exec.Cmd
	urls    []string
}

func newCluster(t *testing.T, n int, flags ...string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: ibkeyBinary(t), dir: t.TempDir(), db: pg.Database(t), logs: &lockedBuffer{}}
	c.keyFile = filepath.Join(c.dir, "master.key")
	c.outbox = filepath.Join(c.dir, "outbox.jsonl")
	c.env = []string{"HOME=" + c.dir, "PATH=" + os.Getenv("PATH")}
	t.Cleanup(func() {
		for _, p := range c.procs {
			if p != nil {
				p.Process.Kill()
				p.Wait()
			}
		}
	})
	// All at once: one makes the key file and the schema, the others wait
	// for it (the migrations' advisory lock).
	c.procs, c.urls = make([]*exec.Cmd, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { c.procs[i], c.urls[i] = c.serve(flags...) })
	}
	wg.Wait()
	for i, u := range c.urls {
		if u == "" {
			t.Fatalf("instance %d did not start; logs:\n%s", i, c.logs.String())
		}
	}
	return c
}

// serve starts one instance and returns it with its URL ("" when it did
// not start).
func (c *cluster) serve(flags ...string) (*exec.Cmd, string) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--db", c.db, "--key-file", c.keyFile, "--outbox", c.outbox, "--ip-rate", "100000", "--page-rate", "100000"}, flags...)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	cmd.Stderr = c.logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Error(err)
		return nil, ""
	}
	if err := cmd.Start(); err != nil {
		c.t.Error(err)
		return nil, ""
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return cmd, ""
	}
	return cmd, strings.TrimSpace(line)
}

// admin runs `ibkey admin` on the cluster's database.
func (c *cluster) admin(stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(append([]string{"admin"}, args...), "--db", c.db, "--key-file", c.keyFile)...)
	cmd.Env = c.env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stderr = c.logs
	out, err := cmd.Output()
	if err != nil {
		c.t.Fatalf("ibkey admin %v: %v\n%s", args, err, c.logs.String())
	}
	return string(out)
}

// code is the code of the newest message to username in the outbox.
func (c *cluster) code(username string) string {
	c.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(c.outbox)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			var m core.Message
			if json.Unmarshal([]byte(lines[i]), &m) == nil && m.Username == username {
				return m.Code
			}
		}
	}
	c.t.Fatalf("no code for %s in the outbox", username)
	return ""
}

func (c *cluster) client(i int) *protocol.Client {
	return &protocol.Client{BaseURL: c.urls[i], HTTP: &http.Client{Timeout: 20 * time.Second}}
}

// pgDevice is a device enrolled through the API, as the app would be.
type pgDevice struct {
	id, user   string
	token      []byte
	secret     []byte
	serviceKey []byte
}

func (d *pgDevice) respond(t *testing.T, challenge string) string {
	t.Helper()
	r, err := ocra.Generate(ocra.MustParseSuite(protocol.SuiteIBKey), d.secret, ocra.Input{Challenge: challenge})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// enroll enrolls a device for username through instance i.
func (c *cluster) enroll(i int, username string) *pgDevice {
	c.t.Helper()
	ctx := context.Background()
	cl := c.client(i)
	enr, err := cl.Enroll(ctx, protocol.EnrollRequest{Username: username, Password: "password-" + username})
	if err != nil {
		c.t.Fatal(err)
	}
	act, _ := protocol.NewActivationKey(rand.Reader)
	token := make([]byte, 32)
	rand.Read(token)
	a, err := cl.Activate(ctx, enr.ID, protocol.ActivateRequest{Code: c.code(username), PublicKey: act.PublicKey().Bytes(), DeliveryKey: act.PublicKey().Bytes(), ChannelToken: token})
	if err != nil {
		c.t.Fatal(err)
	}
	secret, err := protocol.DeriveSecret(act, a.ServerKey, act.PublicKey().Bytes(), a.ServerKey, enr.ID, a.Suite, a.DeviceID)
	if err != nil {
		c.t.Fatal(err)
	}
	d := &pgDevice{id: a.DeviceID, user: username, token: token, secret: secret, serviceKey: a.ServiceKey}
	if err := cl.Confirm(ctx, d.id, token, d.respond(c.t, a.ConfirmChallenge)); err != nil {
		c.t.Fatal(err)
	}
	return d
}

// post sends a JSON request to instance i; it returns the status, or 0
// when the instance did not answer.
func (c *cluster) post(i int, path string, in, out any) int {
	b, _ := json.Marshal(in)
	resp, err := http.Post(c.urls[i]+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		json.NewDecoder(resp.Body).Decode(out)
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode
}

func (c *cluster) login(i int, username string) protocol.Login {
	c.t.Helper()
	var l protocol.Login
	if code := c.post(i, "/api/v1/logins", protocol.LoginRequest{Username: username, Password: "password-" + username}, &l); code != http.StatusCreated {
		c.t.Fatalf("login of %s on instance %d: %d\n%s", username, i, code, c.logs.String())
	}
	return l
}

func (c *cluster) status(i int, id string) string {
	c.t.Helper()
	resp, err := http.Get(c.urls[i] + "/api/v1/logins/" + id)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s protocol.LoginStatus
	json.NewDecoder(resp.Body).Decode(&s)
	return s.Status
}

// TestInstances runs three `ibkey serve` processes on one PostgreSQL
// database with one key file: a device enrolled through the first gets the
// login started on the second through its long-poll of the third, and
// approves it there; one response submitted 50 times over the three is
// accepted once; an account's limit holds across them; a portal session
// works on each; and one killed with SIGKILL under load loses nothing it
// acknowledged.
func TestInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary on PostgreSQL")
	}
	c := newCluster(t, 3)
	users := []string{"ann", "lim", "pia"}
	for i := range 12 {
		users = append(users, fmt.Sprintf("load%02d", i))
	}
	for i, u := range users {
		c.admin("password-"+u+"\n", "useradd", "--username", u, "--phone", fmt.Sprintf("+1555000%04d", i))
	}
	ctx := context.Background()

	// Enroll through the first, log in through the second, long-poll and
	// approve through the third.
	d := c.enroll(0, "ann")
	events := make(chan protocol.Events, 1)
	go func() {
		evs, err := c.client(2).Events(ctx, d.id, d.token, 0, 15*time.Second)
		if err != nil {
			t.Error(err)
		}
		events <- evs
	}()
	time.Sleep(300 * time.Millisecond) // the long-poll waits on the third
	l := c.login(1, "ann")
	var evs protocol.Events
	select {
	case evs = <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("the login on the second instance never reached the long-poll on the third")
	}
	// That the notification, not the third's look at the database every
	// 2 s, wakes it is TestInstancesWakeDevice's (portal), with the look
	// turned off: a bound on the wall clock here would fail under load.
	if len(evs.Events) != 1 {
		t.Fatalf("the long-poll on the third got %d events after the login on the second", len(evs.Events))
	}
	ev, err := protocol.OpenEvent(d.serviceKey, d.id, evs.Events[0])
	if err != nil || ev.ID != l.ID {
		t.Fatalf("event %+v %v", ev, err)
	}
	r, _ := ocra.Generate(ocra.MustParseSuite(protocol.SuiteApprove), d.secret, protocol.ApprovalInput(ev, evs.Events[0].Payload, l.Number))
	if st, err := c.client(2).Approve(ctx, d.id, d.token, protocol.ApprovalRequest{RequestID: l.ID, Number: l.Number, Response: r}); err != nil || st.Status != "approved" {
		t.Fatalf("approval on the third: %+v %v", st, err)
	}
	if st := c.status(0, l.ID); st != "approved" {
		t.Fatalf("the first sees the login %s", st)
	}

	// 50 submits of one response at once, over the three: one accepted.
	l = c.login(0, "ann")
	resp := d.respond(t, l.Challenge)
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Go(func() {
			<-start
			switch code := c.post(i%3, "/api/v1/logins/"+l.ID+"/response", protocol.LoginAnswer{Response: resp}, nil); code {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusGone:
				gone.Add(1)
			default:
				t.Errorf("submit %d: %d", i, code)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 49 {
		t.Fatalf("%d of 50 submits accepted, %d refused as spent", ok.Load(), gone.Load())
	}

	// The account's limits hold across the instances: 5 wrong passwords
	// lock it (423 then), and 10 password checks a minute at most (429
	// then), counted once for the three.
	counts := map[int]int{}
	for i := range 15 {
		counts[c.post(i%3, "/api/v1/logins", protocol.LoginRequest{Username: "lim", Password: "wrong"}, nil)]++
	}
	if counts[401] != 5 || counts[423] != 5 || counts[429] != 5 {
		t.Fatalf("15 wrong passwords over three instances: %v, want 5 × 401, 5 × 423, 5 × 429", counts)
	}

	// A portal session works on each instance.
	pd := c.enroll(2, "pia")
	c.portalSession(pd)

	// Kill one instance under load: every response acknowledged stays
	// approved, none is accepted twice.
	c.killUnderLoad(users[3:])
}

// portalSession logs in to the Client Portal across the instances and
// uses the session on each.
func (c *cluster) portalSession(d *pgDevice) {
	t := c.t
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	challengeRE := regexp.MustCompile(`id="challenge"[^>]*>([0-9 ]+)<`)
	var csrf string
	do := func(i int, method, path string, form url.Values) (int, string, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			form.Set("csrf", csrf)
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, c.urls[i]+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if m := csrfRE.FindSubmatch(b); m != nil {
			csrf = string(m[1])
		}
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	do(0, "GET", "/login", nil)
	if code, loc, body := do(1, "POST", "/login", url.Values{"username": {d.user}, "password": {"password-" + d.user}}); loc != "/login/verify" {
		t.Fatalf("the first's login form posted to the second: %d %s\n%s", code, loc, body)
	}
	_, _, body := do(2, "GET", "/login/verify", nil)
	m := challengeRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no challenge on the third's verify page:\n%s", body)
	}
	if code, loc, _ := do(0, "POST", "/login/verify", url.Values{"response": {d.respond(t, strings.ReplaceAll(m[1], " ", ""))}}); loc != "/account" {
		t.Fatalf("response on the first: %d %s", code, loc)
	}
	for i := range c.urls {
		if code, loc, body := do(i, "GET", "/account", nil); code != http.StatusOK || !strings.Contains(body, d.user) {
			t.Fatalf("the session on instance %d: %d %s", i, code, loc)
		}
	}
}

// killUnderLoad starts three logins for each of users, submits their
// responses from 8 clients over the three instances, kills the third with
// SIGKILL after the first acknowledgements, and checks the database.
func (c *cluster) killUnderLoad(users []string) {
	t := c.t
	type job struct {
		login protocol.Login
		resp  string
	}
	var jobs []job
	for i, u := range users {
		d := c.enroll(i%2, u)
		for range 3 {
			l := c.login(i%2, u)
			jobs = append(jobs, job{l, d.respond(t, l.Challenge)})
		}
	}
	var acked sync.Map // login id -> instance that answered 200
	var done, twice, unanswered atomic.Int32
	next := make(chan job)
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for j := range next {
				// Each job goes to an instance, then to the others in turn
				// while none answers (a load balancer's retry).
				for try := range 3 {
					i := (w + try) % 3
					code := c.post(i, "/api/v1/logins/"+j.login.ID+"/response", protocol.LoginAnswer{Response: j.resp}, nil)
					if code == 0 {
						unanswered.Add(1)
						continue // the instance is gone
					}
					if code == http.StatusOK {
						if _, loaded := acked.LoadOrStore(j.login.ID, i); loaded {
							twice.Add(1)
						}
						if done.Add(1) == 8 {
							once.Do(func() {
								c.procs[2].Process.Signal(syscall.SIGKILL)
								close(killed)
							})
						}
					} else if code != http.StatusGone {
						t.Errorf("submit: %d", code)
					}
					break
				}
			}
		})
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	select {
	case <-killed:
	default:
		t.Fatal("the load ended before the kill")
	}
	if err := c.procs[2].Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("the third instance: %v", err)
	}
	c.procs[2] = nil
	if twice.Load() != 0 {
		t.Fatalf("%d responses accepted twice", twice.Load())
	}
	var ackedN int
	acked.Range(func(k, v any) bool {
		ackedN++
		if st := c.status(0, k.(string)); st != "approved" {
			t.Errorf("login %s acknowledged by instance %d is %s after the kill", k, v, st)
		}
		return true
	})
	// Every response again on the survivors: the acknowledged are spent.
	for _, j := range jobs {
		code := c.post(0, "/api/v1/logins/"+j.login.ID+"/response", protocol.LoginAnswer{Response: j.resp}, nil)
		if _, ok := acked.Load(j.login.ID); ok && code != http.StatusGone {
			t.Errorf("login %s accepted after its acknowledgement: %d", j.login.ID, code)
		}
	}
	// The audit log: one approval per login at most.
	approvals := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(c.admin("", "audit")), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if m["event"] == "login.approved" {
			approvals[m["login"]]++
		}
	}
	for _, j := range jobs {
		if n := approvals[j.login.ID]; n != 1 {
			t.Errorf("login %s approved %d times in the audit log", j.login.ID, n)
		}
	}
	if ackedN < 8 || unanswered.Load() == 0 {
		t.Fatalf("%d acknowledged, %d requests unanswered: the kill was not under load", ackedN, unanswered.Load())
	}
	t.Logf("%d of %d responses acknowledged, %d requests met the killed instance", ackedN, len(jobs), unanswered.Load())
}
