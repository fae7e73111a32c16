package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ibkey/authcore/verifier"
	"ibkey/internal/clientip"
	"ibkey/internal/webapp"
	"ibkey/portal"
	"ibkey/portal/core"
	"ibkey/portal/store"
	"ibkey/portal/store/postgres"
	"ibkey/portal/store/sqlite"
	"ibkey/portal/web"
)

func init() {
	commands["serve"] = command{
		"serve --addr HOST:PORT --db FILE|postgres://... [--key-file FILE] [--outbox FILE] [--tls-cert FILE --tls-key FILE] [--public-url URL] [--trusted-proxies LIST] [--dev-outbox [--dev-outbox-public]] [--web DIR] [--lockout N] [--lockout-time D] [--max-failures N] [--sends-user-hour N] [--sends-user-day N] [--sends-phone-hour N] [--sends-phone-day N] [--ip-rate R] [--account-rate R] [--page-rate R]",
		cmdServe,
	}
}

func cmdServe(e *env, args []string) error {
	fs := flags("serve")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	dbPath := dbFlag(fs)
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
	proxies := fs.String("trusted-proxies", "", "the load balancers (addresses, CIDR networks, comma-separated) whose X-Forwarded-For names the client; none by default")
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
	trusted, err := clientip.Parse(*proxies)
	if err != nil {
		return usagef("serve: --trusted-proxies: %v", err)
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
		dir := "."
		if !postgres.IsURL(*dbPath) {
			dir = filepath.Dir(*dbPath)
		}
		*outbox = filepath.Join(dir, "outbox.jsonl")
		fmt.Fprintf(e.stderr, "ibkey: activation codes go to %s\n", *outbox)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, made, err := openServiceDB(ctx, *dbPath, *keyFile)
	if err != nil {
		return err
	}
	defer st.Close()
	if made != "" {
		fmt.Fprintf(e.stderr, "ibkey: made the service's master key %s: back it up apart from the database\n", made)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	svc, err := core.New(ctx, core.Config{
		Store:   st,
		Rand:    rand.Reader,
		Gateway: core.NewOutbox(*outbox),
		Log:     log,
		Limits: verifier.Config{
			LockoutThreshold: *lockout, LockoutDuration: *lockFor, MaxFailures: *maxFailures,
			SendsPerUserHour: *sendsUserHour, SendsPerUserDay: *sendsUserDay, SendsPerPhoneHour: *sendsPhoneHour, SendsPerPhoneDay: *sendsPhoneDay,
		},
		Rate: core.RateLimit{PerIP: *ipRate, IPBurst: 3 * *ipRate, PerAccount: *acctRate / 60, AccountBurst: 10},
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	srv := portal.New(svc, portal.Options{TrustedProxies: trusted})
	if err := srv.MountWeb(web.Options{
		Secure: secure, DevOutbox: *devOutbox, DevOutboxPublic: *devOutboxPublic, WebApp: webApp != nil, Rand: rand.Reader,
		PageRate: *pageRate, PageBurst: 5 * *pageRate,
	}, *publicURL); err != nil {
		return err
	}
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
	log.Info("serving", "addr", ln.Addr().String(), "tls", secure, "dev_outbox", *devOutbox, "store", storeKind(*dbPath))
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
	return fs.String("key-file", os.Getenv(keyFileEnv), "the service's master key file (default: "+keyFileEnv+", else beside a SQLite database: its path + .key; made on the first start)")
}

// dbFlag adds --db to the flags of a command that opens the service's
// database.
func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", "", "the service's database: a SQLite file, or a PostgreSQL URL (postgres://user@host:port/db?sslmode=disable) that several instances share")
}

// storeKind names the engine of --db, for the log.
func storeKind(db string) string {
	if postgres.IsURL(db) {
		return "postgres"
	}
	return "sqlite"
}

// openServiceDB opens the service's database, a SQLite file or a
// PostgreSQL URL, with its master key file (keyFile; beside a SQLite file
// when empty; a PostgreSQL database needs it named). made is the key
// file's name when this call made it, else "".
func openServiceDB(ctx context.Context, db, keyFile string) (st store.Store, made string, err error) {
	var m bool
	if postgres.IsURL(db) {
		if keyFile == "" {
			return nil, "", usagef("--key-file (or %s) is required with a PostgreSQL --db: every instance needs the same key", keyFileEnv)
		}
		var ps *postgres.Store
		ps, m, err = postgres.OpenKeyFile(ctx, db, keyFile)
		if err != nil {
			return nil, "", redactURL(err, db)
		}
		st = ps
	} else {
		if keyFile == "" {
			keyFile = sqlite.DefaultKeyFile(db)
		}
		var ss *sqlite.Store
		if ss, m, err = sqlite.OpenKeyFile(db, keyFile); err != nil {
			return nil, "", err
		}
		st = ss
	}
	if m {
		made = keyFile
	}
	return st, made, nil
}

// redactURL keeps a password in a PostgreSQL URL out of an error.
func redactURL(err error, db string) error {
	u, perr := url.Parse(db)
	if perr != nil {
		return errors.New("the PostgreSQL URL (--db) does not parse")
	}
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(err.Error(), p) {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
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
