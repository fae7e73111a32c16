package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"ibkey/authcore/verifier"
	"ibkey/internal/webapp"
	"ibkey/portal"
	"ibkey/portal/web"
)

func init() {
	commands["serve"] = command{
		"serve --addr HOST:PORT --db FILE [--key-file FILE] [--outbox FILE] [--tls-cert FILE --tls-key FILE] [--public-url URL] [--dev-outbox [--dev-outbox-public]] [--web DIR] [--lockout N] [--lockout-time D] [--max-failures N] [--sends-user-hour N] [--sends-user-day N] [--sends-phone-hour N] [--sends-phone-day N] [--ip-rate R] [--account-rate R] [--page-rate R]",
		cmdServe,
	}
}

func cmdServe(e *env, args []string) error {
	fs := flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	dbPath := fs.String("db", "", "the SQLite database file")
	keyFile := keyFileFlag(fs)
	outbox := fs.String("outbox", "", "the JSON-lines file of SMS and voice messages (default: outbox.jsonl beside the database)")
	lockout := fs.Int("lockout", 5, "consecutive failures (passwords, codes, responses, PIN proofs) that lock a user for --lockout-time (1 to --max-failures)")
	lockFor := fs.Duration("lockout-time", 15*time.Minute, "how long a timed lock lasts")
	maxFailures := fs.Int("max-failures", verifier.HardLockout, "consecutive failures that lock a user until ibkey admin unlock (1 to 100)")
	sendsUserHour := fs.Int("sends-user-hour", 5, "SMS and voice codes per user per hour")
	sendsUserDay := fs.Int("sends-user-day", 10, "SMS and voice codes per user per day")
	sendsPhoneHour := fs.Int("sends-phone-hour", 5, "SMS and voice codes per phone number per hour")
	sendsPhoneDay := fs.Int("sends-phone-day", 10, "SMS and voice codes per phone number per day")
	ipRate := fs.Float64("ip-rate", 20, "requests per second per client address (burst: 3 seconds' worth)")
	acctRate := fs.Float64("account-rate", 12, "password checks per minute per account (burst: 10)")
	pageRate := fs.Float64("page-rate", 10, "Client Portal pages per second per client address (burst: 5 seconds' worth)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this PEM certificate (chain) file; needs --tls-key")
	tlsKey := fs.String("tls-key", "", "the PEM private key of --tls-cert")
	publicURL := fs.String("public-url", "", "the service's URL in enrollment links (default: the scheme and host the browser used)")
	devOutbox := fs.Bool("dev-outbox", false, "serve the developer outbox page (/outbox) with the SMS and voice codes")
	devOutboxPublic := fs.Bool("dev-outbox-public", false, "allow --dev-outbox on a non-loopback --addr, to any client")
	webDir := fs.String("web", "", "serve the web app that make web builds (build/web) at /app/")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dbPath == "" {
		return usagef("serve: --db is required")
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	if *publicURL != "" {
		if u, err := url.Parse(*publicURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return usagef("serve: --public-url must be an http or https URL")
		}
	}
	if *devOutboxPublic && !*devOutbox {
		return usagef("serve: --dev-outbox-public goes with --dev-outbox")
	}
	if *devOutbox && !*devOutboxPublic && !loopbackAddr(*addr) {
		return usagef("serve: --dev-outbox shows the activation codes: on the non-loopback address %s it needs --dev-outbox-public too", *addr)
	}
	if *maxFailures < 1 || *maxFailures > verifier.HardLockout {
		return usagef("serve: --max-failures must be 1 to %d (NIST SP 800-63B allows at most 100)", verifier.HardLockout)
	}
	if *lockout < 1 || *lockout > *maxFailures {
		return usagef("serve: --lockout must be 1 to --max-failures (%d)", *maxFailures)
	}
	if *sendsUserHour < 1 || *sendsUserDay < 1 || *sendsPhoneHour < 1 || *sendsPhoneDay < 1 {
		return usagef("serve: --sends-user-hour, --sends-user-day, --sends-phone-hour and --sends-phone-day must be at least 1")
	}
	if *ipRate <= 0 || *acctRate <= 0 || *pageRate <= 0 {
		return usagef("serve: --ip-rate, --account-rate and --page-rate must be more than 0")
	}
	secure := *tlsCert != ""
	var tlsConf *tls.Config
	if secure {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("serve: TLS: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	webApp, err := openWebApp(*webDir)
	if err != nil {
		return err
	}
	if *outbox == "" {
		*outbox = filepath.Join(filepath.Dir(*dbPath), "outbox.jsonl")
		fmt.Fprintf(e.stderr, "ibkey: activation codes go to %s\n", *outbox)
	}
	store, made, err := openServiceDB(*dbPath, *keyFile)
	if err != nil {
		return err
	}
	defer store.Close()
	if made != "" {
		fmt.Fprintf(e.stderr, "ibkey: made the service's master key %s: back it up apart from the database\n", made)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := portal.New(ctx, portal.Config{
		Store:   store,
		Rand:    rand.Reader,
		Gateway: portal.NewOutbox(*outbox),
		Log:     log,
		Limits: verifier.Config{
			LockoutThreshold: *lockout, LockoutDuration: *lockFor, MaxFailures: *maxFailures,
			SendsPerUserHour: *sendsUserHour, SendsPerUserDay: *sendsUserDay, SendsPerPhoneHour: *sendsPhoneHour, SendsPerPhoneDay: *sendsPhoneDay,
		},
		Rate: portal.RateLimit{PerIP: *ipRate, IPBurst: 3 * *ipRate, PerAccount: *acctRate / 60, AccountBurst: 10},
	})
	if err != nil {
		return err
	}
	srv.MountWeb(web.Options{
		Secure: secure, DevOutbox: *devOutbox, DevOutboxPublic: *devOutboxPublic, WebApp: webApp != nil, Rand: rand.Reader,
		PageRate: *pageRate, PageBurst: 5 * *pageRate,
	}, *publicURL)
	if webApp != nil {
		srv.Mux().Handle(webapp.Prefix, webApp)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "http"
	if secure {
		scheme = "https"
	}
	hs := srv.HTTPServer(ln.Addr().String())
	hs.TLSConfig = tlsConf
	base, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	hs.BaseContext = func(net.Listener) context.Context { return base }
	fmt.Fprintf(e.stdout, "%s://%s\n", scheme, ln.Addr())
	if f, ok := e.stdout.(*os.File); ok {
		f.Sync()
	}
	log.Info("serving", "addr", ln.Addr().String(), "tls", secure, "dev_outbox", *devOutbox)
	errc := make(chan error, 1)
	go func() {
		if secure {
			errc <- hs.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			errc <- hs.Serve(ln)
		}
	}()
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

// keyFileEnv names the service's master key file when --key-file does not.
const keyFileEnv = "IBKEY_SERVICE_KEY_FILE"

// keyFileFlag adds --key-file to the flags of a command that opens the
// service's database.
func keyFileFlag(fs *flag.FlagSet) *string {
	return fs.String("key-file", os.Getenv(keyFileEnv), "the service's master key file (default: "+keyFileEnv+", else the database path + .key, made on the first start)")
}

// openServiceDB opens the service's database with its master key file
// (keyFile, or beside the database when empty). made is the key file's
// name when this call made it, else "".
func openServiceDB(dbPath, keyFile string) (st portal.Store, made string, err error) {
	if keyFile == "" {
		keyFile = portal.DefaultKeyFile(dbPath)
	}
	_, statErr := os.Stat(keyFile)
	st, err = portal.OpenSQLiteKeyFile(dbPath, keyFile)
	if err != nil {
		return nil, "", err
	}
	if errors.Is(statErr, iofs.ErrNotExist) {
		made = keyFile
	}
	return st, made, nil
}

// loopbackAddr reports whether the listen address addr (HOST:PORT) is a
// loopback one: localhost or a loopback IP. An empty host is every
// interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
