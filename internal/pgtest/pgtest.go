// Package pgtest starts a throwaway PostgreSQL server for tests, from the
// server binaries of Debian's postgresql package: initdb into a new
// temporary folder, pg_ctl start on a free loopback port (and a Unix socket
// in the same folder), and, at Stop, pg_ctl stop and the folder removed.
//
// When the binaries are missing, [Start] returns [ErrUnavailable]; tests skip
// then, unless the environment variable IBKEY_TEST_POSTGRES is 1 (make test
// sets it), when a missing server is a failure: see [Require].
//
// As root (CI), the server runs as the postgres user, since initdb refuses
// to run as root; the folder is then owned by postgres.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrUnavailable is returned by Start when no PostgreSQL server binaries
// are installed.
var ErrUnavailable = errors.New("pgtest: no PostgreSQL server binaries (apt-get install postgresql)")

// Server is a running throwaway PostgreSQL server.
type Server struct {
	dir  string // data folder and socket folder
	bin  string // folder of initdb, pg_ctl, createdb
	port int
	as   string // run the binaries as this user ("" for the current one)

	mu  sync.Mutex
	dbs int
}

// BinDir returns the folder of the newest installed PostgreSQL server
// binaries, or ErrUnavailable. IBKEY_PG_BIN overrides it.
func BinDir() (string, error) {
	if d := os.Getenv("IBKEY_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if complete(d) {
			return d, nil
		}
	}
	return "", ErrUnavailable
}

// complete reports whether dir has every binary a Server runs.
func complete(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl", "createdb", "dropdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// version is the major version in /usr/lib/postgresql/N/bin, or 0.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// Start initialises and starts a new server for tests: it never flushes
// to disk (fsync, synchronous_commit and full_page_writes off), as
// nothing in it is to outlive it. Stop it when done.
func Start(ctx context.Context) (*Server, error) { return start(ctx, false) }

func start(ctx context.Context, durable bool) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin}
	if os.Geteuid() == 0 {
		s.as = "postgres"
	}
	if s.dir, err = os.MkdirTemp("", "ibkey-pg-"); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if s.as != "" {
		u, err := user.Lookup(s.as)
		if err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: running as root needs the %s user: %w", s.as, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.dir, uid, gid); err != nil {
			os.RemoveAll(s.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(s.dir, "data")
	if err := s.run(ctx, "initdb", "-D", data, "--auth=trust", "--username=postgres", "--encoding=UTF8", "--no-sync"); err != nil {
		s.Stop()
		return nil, err
	}
	// A free port can be taken between the probe and the start: try again.
	for try := 0; ; try++ {
		if s.port, err = freePort(); err != nil {
			s.Stop()
			return nil, err
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", s.port, s.dir)
		if !durable {
			opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
		}
		err = s.run(ctx, "pg_ctl", "-D", data, "-l", filepath.Join(s.dir, "log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			return s, nil
		}
		if try == 2 {
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			s.Stop()
			return nil, fmt.Errorf("%w\n%s", err, tail(log, 2000))
		}
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// run runs one of the server's binaries, as s.as when set.
func (s *Server) run(ctx context.Context, name string, args ...string) error {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.as != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", s.as, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = s.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgtest: %s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// Port is the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// URL is the connection URL of database db as the postgres superuser.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// NewDatabase creates a new, empty database and returns its URL. Each call
// gives another database, so that tests sharing the server do not meet.
func (s *Server) NewDatabase(ctx context.Context) (string, error) {
	name, err := s.newDatabase(ctx)
	if err != nil {
		return "", err
	}
	return s.URL(name), nil
}

func (s *Server) newDatabase(ctx context.Context) (string, error) {
	s.mu.Lock()
	s.dbs++
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs)
	s.mu.Unlock()
	if err := s.run(ctx, "createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", name); err != nil {
		return "", err
	}
	return name, nil
}

// DropDatabase drops database db, ending its connections first.
func (s *Server) DropDatabase(ctx context.Context, db string) error {
	return s.run(ctx, "dropdb", "-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "--force", db)
}

// Stop stops the server and removes its folder.
func (s *Server) Stop() {
	if s.port != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.run(ctx, "pg_ctl", "-D", filepath.Join(s.dir, "data"), "-m", "immediate", "-w", "stop")
		cancel()
	}
	os.RemoveAll(s.dir)
}

// Required reports whether the environment demands a PostgreSQL server
// (IBKEY_TEST_POSTGRES=1), so that a missing one fails instead of skipping.
func Required() bool { return os.Getenv("IBKEY_TEST_POSTGRES") == "1" }

// Shared is one server started on first use and shared by the tests of a
// test binary; call Stop from TestMain after m.Run.
type Shared struct {
	// Durable starts the server as PostgreSQL is deployed, for
	// benchmarks: its defaults, a commit waits until its log is on disk.
	Durable bool
	once    sync.Once
	srv     *Server
	err     error
}

// Database returns the URL of a new database on the shared server,
// starting it on first use. Without a server it skips t, or fails it when
// [Required].
func (sh *Shared) Database(t testing.TB) string {
	t.Helper()
	sh.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sh.srv, sh.err = start(ctx, sh.Durable)
	})
	if sh.err != nil {
		if errors.Is(sh.err, ErrUnavailable) && !Required() {
			t.Skipf("%v; set IBKEY_TEST_POSTGRES=1 to make this a failure", sh.err)
		}
		t.Fatal(sh.err)
	}
	name, err := sh.srv.newDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Dropped once t and what it started (its cleanups run first) are
	// done, so that what a test leaves does not weigh on the next: the
	// server's cache, its checkpoints and autovacuum.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := sh.srv.DropDatabase(ctx, name); err != nil {
			t.Error(err)
		}
	})
	return sh.srv.URL(name)
}

// Server returns the shared server once Database has started it, or nil.
func (sh *Shared) Server() *Server { return sh.srv }

// Stop stops the shared server if it was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}
