// Package core is the IB Key service as operations: enrollment and
// activation of devices, logins by challenge/response and by seamless
// approval, sealed deliveries and PIN proofs, the portal's account tasks,
// the limits on guessing and sending, and the audit log. It knows nothing
// of HTTP: an operation takes a typed request (with the client's address
// where a limit needs it) and returns a typed result or one of the domain
// errors of errors.go. The JSON API (package portal) and the Client
// Portal's pages (package web) are its two transports; the records live in
// a store.Store (package store), one implementation per engine.
//
// # Which to use
//
// [New] makes a [Service] on a store. The administrator's functions
// ([CreateAccount], [UnlockAccount], [ListDevices], [IssueTempPassword],
// [ReadAudit]) work on a store directly, as the command line needs.
//
// # Several instances
//
// Nothing that must hold across instances of one service lives in a
// Service: failure counts and locks, rate-limit buckets, codes sent,
// portal sessions and the audit log are in the store, and a device's
// long-poll is woken by the store's notifications (store.Listener) besides
// the instance's own. What a Service keeps is a cache: its identity key,
// the dummy password hash, and the long-polls waiting on it.
package core

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"ibkey/authcore/protocol"
	"ibkey/authcore/verifier"
	"ibkey/portal/store"
)

// Config configures a Service. Store is required; the rest have defaults.
type Config struct {
	Store    store.Store
	Now      func() time.Time // the clock: time.Now
	Rand     io.Reader        // crypto/rand.Reader
	Gateway  Gateway          // where activation codes go; required for enrollment
	Notifier Notifier         // told of new events besides the long-polls; may be nil
	Log      *slog.Logger     // slog.Default()
	Limits   verifier.Config
	Argon2   Argon2Params // for the dummy hash and password changes: DefaultArgon2
	Rate     RateLimit
	MaxWait  time.Duration // longest long-poll: 30s
	// CrossProcessPoll is how often a long-poll looks at the store for
	// events written by another process that the store does not tell of
	// (admin commands on SQLite): 2s.
	CrossProcessPoll time.Duration
}

// Service is the IB Key service.
type Service struct {
	cfg       Config
	st        store.Store
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	hub       *Hub
	key       ed25519.PrivateKey
	dummyHash string
	rate      RateLimit

	stop      context.CancelFunc
	listening sync.WaitGroup
	pruned    atomic.Int64 // when the store's expired rows were last dropped
}

// New makes a Service, creating the service's Ed25519 identity in the
// store on first start. When the store carries notifications between
// processes (store.Listener), the Service listens until Close.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("core: Config.Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Argon2.Memory == 0 {
		cfg.Argon2 = DefaultArgon2
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 30 * time.Second
	}
	if cfg.CrossProcessPoll <= 0 {
		cfg.CrossProcessPoll = 2 * time.Second
	}
	cfg.Limits = cfg.Limits.WithDefaults()
	key, err := ServiceKey(ctx, cfg.Store, cfg.Rand)
	if err != nil {
		return nil, err
	}
	dummy, err := HashPassword(cfg.Rand, "no such user", cfg.Argon2)
	if err != nil {
		return nil, err
	}
	s := &Service{
		cfg: cfg, st: cfg.Store, now: cfg.Now, rand: cfg.Rand, log: cfg.Log,
		hub: NewHub(), key: key, dummyHash: dummy, rate: cfg.Rate.withDefaults(),
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if l, ok := cfg.Store.(store.Listener); ok {
		s.listening.Go(func() {
			l.Listen(lctx, func(deviceID string) {
				if deviceID == "" {
					s.hub.NotifyAll()
					return
				}
				s.hub.Notify(deviceID)
			})
		})
	}
	return s, nil
}

// Close stops listening to the store. It does not close the store.
func (s *Service) Close() error {
	s.stop()
	s.listening.Wait()
	return nil
}

// metaServiceKey is the meta key of the service's identity seed (sealed).
const metaServiceKey = "service_key"

// ServiceKey returns the service's Ed25519 identity from the store,
// creating it on first use.
func ServiceKey(ctx context.Context, st store.Store, rnd io.Reader) (ed25519.PrivateKey, error) {
	seed, err := secret(ctx, st, rnd, metaServiceKey, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("core: service key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// secret returns the random value of n bytes kept (sealed) under a meta
// key, making it on first use: of instances that start at once, the first
// to commit makes it and the others read it.
func secret(ctx context.Context, st store.Store, rnd io.Reader, name string, n int) ([]byte, error) {
	var v []byte
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		v, err = tx.Meta(name)
		if errors.Is(err, store.ErrNotFound) {
			v = make([]byte, n)
			if _, err := io.ReadFull(rnd, v); err != nil {
				return err
			}
			return tx.InsertMeta(name, v)
		}
		return err
	})
	if errors.Is(err, store.ErrExists) || (err == nil && len(v) != n) {
		// Made by another instance meanwhile, or damaged: read it again.
		err = st.View(ctx, func(tx store.Tx) error {
			var err error
			v, err = tx.Meta(name)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if len(v) != n {
		return nil, fmt.Errorf("core: the stored %s is damaged", name)
	}
	return v, nil
}

// PublicKey returns the service's identity.
func (s *Service) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// PrivateKeySeed is the seed of the service's identity, for tests that
// look for it where it must not be.
func (s *Service) PrivateKeySeed() []byte { return s.key.Seed() }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Log is the service's log.
func (s *Service) Log() *slog.Logger { return s.log }

// MaxWait is the longest long-poll.
func (s *Service) MaxWait() time.Duration { return s.cfg.MaxWait }

// Limits are the service's limits.
func (s *Service) Limits() verifier.Config { return s.cfg.Limits }

// Store is the service's store.
func (s *Service) Store() store.Store { return s.st }

// Suites are the OCRA suites the service issues.
func (s *Service) Suites() []string {
	return []string{protocol.SuiteIBKey, protocol.SuiteDSC, protocol.SuiteApprove}
}

// notify wakes the device's long-polls in this process and the extra
// Notifier; other processes learn of the event through the store
// (Tx.Notify) or its poll.
func (s *Service) notify(deviceID string) {
	s.hub.Notify(deviceID)
	if s.cfg.Notifier != nil {
		s.cfg.Notifier.Notify(deviceID)
	}
}
