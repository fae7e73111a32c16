package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"ibkey/authcore/verifier"
	"ibkey/portal"
)

func init() {
	commands["serve"] = command{
		"serve --addr HOST:PORT --db FILE [--outbox FILE] [--lockout N] [--lockout-time D] [--ip-rate R] [--account-rate R]",
		cmdServe,
	}
}

func cmdServe(e *env, args []string) error {
	fs := flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	dbPath := fs.String("db", "", "the SQLite database file")
	outbox := fs.String("outbox", "", "the JSON-lines file of SMS and voice messages (default: outbox.jsonl beside the database)")
	lockout := fs.Int("lockout", 5, "consecutive failed responses that lock a user (1 to 100)")
	lockFor := fs.Duration("lockout-time", 15*time.Minute, "how long a lock lasts")
	ipRate := fs.Float64("ip-rate", 20, "requests per second per client address (burst: 3 seconds' worth)")
	acctRate := fs.Float64("account-rate", 12, "password checks per minute per account (burst: 10)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dbPath == "" {
		return usagef("serve: --db is required")
	}
	if *lockout < 1 || *lockout > verifier.HardLockout {
		return usagef("serve: --lockout must be 1 to %d", verifier.HardLockout)
	}
	if *ipRate <= 0 || *acctRate <= 0 {
		return usagef("serve: --ip-rate and --account-rate must be more than 0")
	}
	if *outbox == "" {
		*outbox = filepath.Join(filepath.Dir(*dbPath), "outbox.jsonl")
		fmt.Fprintf(e.stderr, "ibkey: activation codes go to %s\n", *outbox)
	}
	store, err := portal.OpenSQLite(*dbPath)
	if err != nil {
		return err
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := portal.New(ctx, portal.Config{
		Store:   store,
		Rand:    rand.Reader,
		Gateway: portal.NewOutbox(*outbox),
		Log:     log,
		Limits:  verifier.Config{LockoutThreshold: *lockout, LockoutDuration: *lockFor},
		Rate:    portal.RateLimit{PerIP: *ipRate, IPBurst: 3 * *ipRate, PerAccount: *acctRate / 60, AccountBurst: 10},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs.BaseContext = func(net.Listener) context.Context { return base }
	fmt.Fprintf(e.stdout, "http://%s\n", ln.Addr())
	if f, ok := e.stdout.(*os.File); ok {
		f.Sync()
	}
	log.Info("serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	cancelBase() // ends the long-polls
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}
