// Package verifier is the service side of IB Key as pure logic: the
// enrollment state machine and its activation codes, key agreement at
// activation, challenges and their responses, the per-user lockout, number
// matching for seamless logins, and sealed temporary passwords.
//
// It keeps no state of its own and does no I/O: time and randomness are
// arguments, and the caller (package portal) stores the values it returns
// and serialises the changes of one record.
//
// # Which to use
//
// [Config.WithDefaults] gives the limits. An enrollment is an [Enrollment]:
// [NewEnrollment], [Enrollment.Resend], [Enrollment.Check]. Activation is
// [Activate]. A login's 6-digit challenge comes from [NewChallenge] and is
// checked with [VerifyResponse]; a seamless request comes from
// [NewPushRequest] and its answer is checked with [VerifyApproval]. Every
// failed check is counted with [Lockout.Fail].
package verifier

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"ibkey/authcore/digits"
	"ibkey/authcore/ocra"
	"ibkey/authcore/protocol"
)

// Expected outcomes.
var (
	ErrBadCode       = errors.New("verifier: wrong activation code")
	ErrExpired       = errors.New("verifier: expired")
	ErrSpent         = errors.New("verifier: already used")
	ErrTooManyTries  = errors.New("verifier: too many wrong codes")
	ErrResendTooSoon = errors.New("verifier: resend too soon")
	ErrTooManySends  = errors.New("verifier: too many codes sent")
	ErrBadResponse   = errors.New("verifier: wrong response")
	ErrWrongNumber   = errors.New("verifier: wrong number")
	ErrLocked        = errors.New("verifier: user locked")
	ErrBadChannel    = errors.New("verifier: unknown channel")
	ErrNoCode        = errors.New("verifier: an enrollment by link has no code to send")
	ErrSendCap       = errors.New("verifier: too many codes sent to this user or phone")
)

// Sent counts the codes already sent, over every enrollment, to a user and
// to a phone number, in the last hour and the last day.
type Sent struct {
	UserHour, UserDay, PhoneHour, PhoneDay int
}

// SendCap says whether one more code may be sent: nil, or ErrSendCap
// wrapped with the name of the cap that holds (user_hour, user_day,
// phone_hour, phone_day; CapName reads it).
func SendCap(cfg Config, n Sent) error {
	cfg = cfg.WithDefaults()
	for _, c := range []struct {
		name    string
		n, most int
	}{
		{"sends_user_hour", n.UserHour, cfg.SendsPerUserHour},
		{"sends_user_day", n.UserDay, cfg.SendsPerUserDay},
		{"sends_phone_hour", n.PhoneHour, cfg.SendsPerPhoneHour},
		{"sends_phone_day", n.PhoneDay, cfg.SendsPerPhoneDay},
	} {
		if c.n >= c.most {
			return &capError{c.name}
		}
	}
	return nil
}

type capError struct{ name string }

func (e *capError) Error() string { return ErrSendCap.Error() + " (" + e.name + ")" }
func (e *capError) Unwrap() error { return ErrSendCap }

// CapName is the name of the cap of an error of SendCap, else "".
func CapName(err error) string {
	var c *capError
	if errors.As(err, &c) {
		return c.name
	}
	return ""
}

// HardLockout is the most consecutive failures any configuration allows
// (NIST SP 800-63B): after it only an administrator unlocks.
// Config.MaxFailures may set fewer.
const HardLockout = 100

// Config holds the service's limits. Zero fields take the defaults.
type Config struct {
	CodeDigits       int           // activation code digits: 8 (at least 6)
	CodeTTL          time.Duration // activation code validity: 10 minutes
	CodeMaxTries     int           // wrong codes per enrollment: 10
	ResendInterval   time.Duration // between two sends: 30 seconds
	MaxSends         int           // codes sent per enrollment: 5
	ChallengeTTL     time.Duration // login challenge validity: 3 minutes
	RequestTTL       time.Duration // seamless request validity: 2 minutes
	MaxOutstanding   int           // pending seamless requests per user: 3
	LockoutThreshold int           // consecutive failures that lock for a while: 5 (1 to MaxFailures)
	LockoutDuration  time.Duration // how long a timed lock lasts: 15 minutes
	MaxFailures      int           // consecutive failures that lock until an administrator unlocks: 100 (1 to 100)

	// Codes sent by SMS or voice, over every enrollment, counted by the
	// service in its store: per user and per phone number, per hour and
	// per (rolling) day.
	SendsPerUserHour  int // 5
	SendsPerUserDay   int // 10
	SendsPerPhoneHour int // 5
	SendsPerPhoneDay  int // 10
}

// WithDefaults fills zero fields and clamps the others to safe ranges.
func (c Config) WithDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.CodeDigits < 6 || c.CodeDigits > 10 {
		c.CodeDigits = 8
	}
	def(&c.CodeTTL, 10*time.Minute)
	if c.CodeMaxTries <= 0 || c.CodeMaxTries > 10 {
		c.CodeMaxTries = 10
	}
	def(&c.ResendInterval, 30*time.Second)
	if c.MaxSends <= 0 {
		c.MaxSends = 5
	}
	def(&c.ChallengeTTL, 3*time.Minute)
	def(&c.RequestTTL, 2*time.Minute)
	if c.MaxOutstanding <= 0 {
		c.MaxOutstanding = 3
	}
	for _, v := range []struct {
		p   *int
		def int
	}{{&c.SendsPerUserHour, 5}, {&c.SendsPerUserDay, 10}, {&c.SendsPerPhoneHour, 5}, {&c.SendsPerPhoneDay, 10}} {
		if *v.p <= 0 {
			*v.p = v.def
		}
	}
	if c.MaxFailures <= 0 || c.MaxFailures > HardLockout {
		c.MaxFailures = HardLockout
	}
	if c.LockoutThreshold <= 0 {
		c.LockoutThreshold = 5
	}
	if c.LockoutThreshold > c.MaxFailures {
		c.LockoutThreshold = c.MaxFailures
	}
	def(&c.LockoutDuration, 15*time.Minute)
	return c
}

// Digits returns n random decimal digits, uniformly.
func Digits(rand io.Reader, n int) (string, error) {
	max := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
	v, err := randInt(rand, max)
	if err != nil {
		return "", err
	}
	s := v.String()
	return strings.Repeat("0", n-len(s)) + s, nil
}

func randInt(rand io.Reader, max *big.Int) (*big.Int, error) {
	// Rejection sampling over whole bytes.
	nb := (max.BitLen() + 7) / 8
	buf := make([]byte, nb)
	limit := new(big.Int).Lsh(big.NewInt(1), uint(nb*8))
	limit.Sub(limit, new(big.Int).Mod(limit, max))
	for {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("verifier: random: %w", err)
		}
		v := new(big.Int).SetBytes(buf)
		if v.Cmp(limit) < 0 {
			return v.Mod(v, max), nil
		}
	}
}

// NewID returns a random identifier: 16 bytes in hexadecimal.
func NewID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("verifier: random: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Enrollment states.
const (
	EnrollPending   = "pending"   // code sent, waiting for activation
	EnrollActivated = "activated" // code accepted; device waits for confirmation
	EnrollFailed    = "failed"    // too many wrong codes
)

// Enrollment is one enrollment of a device for a user.
type Enrollment struct {
	ID        string
	Username  string
	State     string
	Channel   string
	CodeHash  []byte
	Tries     int
	Sends     int
	ExpiresAt time.Time
	LastSent  time.Time
	// Locator finds an enrollment by link from its Session ID: the ID's
	// first characters, kept in clear. The whole ID is checked as a code.
	Locator string
	// Channels are the channels codes have been sent by, in order of
	// first use: the first code by a channel goes at once (a voice call
	// right after the SMS), later ones wait ResendInterval.
	Channels []string
}

// CodeHash binds a code to its enrollment; the service stores only this.
func CodeHash(enrollmentID, code string) []byte {
	h := sha256.New()
	h.Write([]byte("ibkey-code-v1"))
	h.Write(lp(enrollmentID))
	h.Write([]byte(code))
	return h.Sum(nil)
}

func lp(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

// NewEnrollment starts an enrollment of username and returns it with the
// first code to send by channel.
func NewEnrollment(cfg Config, rand io.Reader, now time.Time, username, channel string) (Enrollment, string, error) {
	cfg = cfg.WithDefaults()
	if channel == "" {
		channel = protocol.ChannelSMS
	}
	if channel != protocol.ChannelSMS && channel != protocol.ChannelVoice {
		return Enrollment{}, "", ErrBadChannel
	}
	id, err := NewID(rand)
	if err != nil {
		return Enrollment{}, "", err
	}
	e := Enrollment{ID: id, Username: username, State: EnrollPending, Channel: channel}
	code, err := e.newCode(cfg, rand, now)
	return e, code, err
}

func (e *Enrollment) newCode(cfg Config, rand io.Reader, now time.Time) (string, error) {
	code, err := Digits(rand, cfg.CodeDigits)
	if err != nil {
		return "", err
	}
	e.CodeHash = CodeHash(e.ID, code)
	e.ExpiresAt = now.Add(cfg.CodeTTL)
	e.LastSent = now
	e.Sends++
	if !slices.Contains(e.Channels, e.Channel) {
		e.Channels = append(e.Channels, e.Channel)
	}
	return code, nil
}

// LocatorLen is how many leading characters of a Session ID locate its
// enrollment; the other 60 bits are only compared, as a hash.
const LocatorLen = 4

// NewLinkEnrollment starts an enrollment of username by a Client Portal
// link and returns it with its Session ID (canonical, see
// protocol.NormalizeSessionID). No code is sent: the Session ID is the
// enrollment's code, valid and counted like one (CodeTTL, CodeMaxTries).
func NewLinkEnrollment(cfg Config, rand io.Reader, now time.Time, username string) (Enrollment, string, error) {
	cfg = cfg.WithDefaults()
	id, err := NewID(rand)
	if err != nil {
		return Enrollment{}, "", err
	}
	session, err := NewSessionID(rand)
	if err != nil {
		return Enrollment{}, "", err
	}
	e := Enrollment{
		ID: id, Username: username, State: EnrollPending, Channel: protocol.ChannelLink,
		CodeHash: CodeHash(id, session), ExpiresAt: now.Add(cfg.CodeTTL), Locator: session[:LocatorLen],
	}
	return e, session, nil
}

// NewSessionID returns a random Session ID: protocol.SessionIDLen
// characters of protocol.SessionAlphabet (5 bits each, 80 in all).
func NewSessionID(rand io.Reader) (string, error) {
	b := make([]byte, protocol.SessionIDLen)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("verifier: random: %w", err)
	}
	for i := range b {
		b[i] = protocol.SessionAlphabet[b[i]%32] // 256 is a multiple of 32: uniform
	}
	return string(b), nil
}

// CheckSession checks the Session ID of an enrollment by link without
// using it up: a wrong one counts as a wrong code (and fails the
// enrollment after CodeMaxTries); the right one leaves it pending, for
// Check at activation. The ID is compared in constant time.
func (e *Enrollment) CheckSession(cfg Config, session string, now time.Time) error {
	cfg = cfg.WithDefaults()
	switch {
	case e.Channel != protocol.ChannelLink:
		return ErrBadChannel
	case e.State == EnrollFailed:
		return ErrTooManyTries
	case e.State != EnrollPending:
		return ErrSpent
	case !now.Before(e.ExpiresAt):
		return ErrExpired
	}
	if hmac.Equal(CodeHash(e.ID, session), e.CodeHash) {
		return nil
	}
	e.Tries++
	if e.Tries >= cfg.CodeMaxTries {
		e.State = EnrollFailed
		return ErrTooManyTries
	}
	return ErrBadCode
}

// Resend makes a new code to send by channel; an empty channel is the other
// one than the last. The tries already spent still count. The first code by
// a channel not used yet goes at once (someone who got no SMS asks for the
// call); another waits ResendInterval after the last send. MaxSends holds
// either way.
func (e *Enrollment) Resend(cfg Config, rand io.Reader, now time.Time, channel string) (string, error) {
	cfg = cfg.WithDefaults()
	if e.Channel == protocol.ChannelLink {
		return "", ErrNoCode
	}
	if e.State != EnrollPending {
		return "", ErrSpent
	}
	switch channel {
	case "":
		channel = protocol.ChannelVoice
		if e.Channel == protocol.ChannelVoice {
			channel = protocol.ChannelSMS
		}
	case protocol.ChannelSMS, protocol.ChannelVoice:
	default:
		return "", ErrBadChannel
	}
	if e.Sends >= cfg.MaxSends {
		return "", ErrTooManySends
	}
	if slices.Contains(e.Channels, channel) && now.Before(e.LastSent.Add(cfg.ResendInterval)) {
		return "", ErrResendTooSoon
	}
	e.Channel = channel
	return e.newCode(cfg, rand, now)
}

// ResendAfter is when a resend by a channel already used is next allowed.
func (e *Enrollment) ResendAfter(cfg Config) time.Time {
	return e.LastSent.Add(cfg.WithDefaults().ResendInterval)
}

// Check checks an activation code and moves the enrollment on: to
// activated on success, or to failed after too many wrong codes. The code is
// compared in constant time.
func (e *Enrollment) Check(cfg Config, code string, now time.Time) error {
	cfg = cfg.WithDefaults()
	switch {
	case e.State == EnrollFailed:
		return ErrTooManyTries
	case e.State != EnrollPending:
		return ErrSpent
	case !now.Before(e.ExpiresAt):
		return ErrExpired
	}
	code = digits.Strip(code)
	if hmac.Equal(CodeHash(e.ID, code), e.CodeHash) {
		e.State = EnrollActivated
		return nil
	}
	e.Tries++
	if e.Tries >= cfg.CodeMaxTries {
		e.State = EnrollFailed
		return ErrTooManyTries
	}
	return ErrBadCode
}

// TriesLeft is how many wrong codes the enrollment still takes.
func (e *Enrollment) TriesLeft(cfg Config) int {
	n := cfg.WithDefaults().CodeMaxTries - e.Tries
	if n < 0 {
		return 0
	}
	return n
}

// Activate is the service's half of the key agreement: a fresh X25519 key,
// its public half to return to the device, and the OCRA secret (see
// protocol.DeriveSecret). The private key is dropped on return.
func Activate(rand io.Reader, devicePub []byte, enrollmentID, suite, deviceID string) (serverPub, secret []byte, err error) {
	if len(devicePub) != 32 {
		return nil, nil, protocol.ErrBadKey
	}
	k, err := protocol.NewActivationKey(rand)
	if err != nil {
		return nil, nil, err
	}
	serverPub = k.PublicKey().Bytes()
	secret, err = protocol.DeriveSecret(k, devicePub, devicePub, serverPub, enrollmentID, suite, deviceID)
	if err != nil {
		return nil, nil, err
	}
	return serverPub, secret, nil
}

// CheckPublicKey reports whether b is a valid X25519 public key.
func CheckPublicKey(b []byte) error {
	if _, err := ecdh.X25519().NewPublicKey(b); err != nil || len(b) != 32 {
		return protocol.ErrBadKey
	}
	return nil
}

// NewChallenge returns a 6-digit login challenge.
func NewChallenge(rand io.Reader) (string, error) { return Digits(rand, 6) }

// VerifyResponse checks an OCRA response to challenge with the device's
// secret and suite; pinHash is the stored P input of a DSC+ suite, nil
// otherwise. It compares in constant time and returns ErrBadResponse on a
// mismatch.
func VerifyResponse(suite ocra.Suite, secret, pinHash []byte, challenge, response string) error {
	in := ocra.Input{Challenge: challenge}
	if suite.PIN() != 0 {
		in.PINHash = pinHash
	}
	if _, err := ocra.Verify(suite, secret, digits.Strip(response), in, ocra.Window{}); err != nil {
		if errors.Is(err, ocra.ErrMismatch) {
			return ErrBadResponse
		}
		return fmt.Errorf("verifier: %w", err)
	}
	return nil
}

// PushRequest is the number matching of a seamless login: the number the
// browser shows, the three the device offers, and the 40-hex-digit OCRA
// challenge of the approval.
type PushRequest struct {
	Challenge string
	Number    int
	Choices   []int
}

// NewPushRequest makes the challenge and numbers of a seamless login.
func NewPushRequest(rand io.Reader) (PushRequest, error) {
	var b [20]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return PushRequest{}, fmt.Errorf("verifier: random: %w", err)
	}
	p := PushRequest{Challenge: hex.EncodeToString(b[:])}
	seen := map[int]bool{}
	for len(p.Choices) < 3 {
		v, err := randInt(rand, big.NewInt(90))
		if err != nil {
			return PushRequest{}, err
		}
		n := int(v.Int64()) + 10
		if !seen[n] {
			seen[n] = true
			p.Choices = append(p.Choices, n)
		}
	}
	v, err := randInt(rand, big.NewInt(3))
	if err != nil {
		return PushRequest{}, err
	}
	p.Number = p.Choices[v.Int64()]
	return p, nil
}

// VerifyApproval checks an approval of a seamless login whose signed
// payload is payload: response must be the OCRA response of the approve
// suite over challenge with S = protocol.ApprovalSession(payload, chosen).
// A valid response for the wrong number gives ErrWrongNumber; anything else
// wrong gives ErrBadResponse.
func VerifyApproval(secret, payload []byte, challenge string, number, chosen int, response string) error {
	suite := ocra.MustParseSuite(protocol.SuiteApprove)
	in := ocra.Input{Challenge: challenge, Session: protocol.ApprovalSession(payload, chosen)}
	if _, err := ocra.Verify(suite, secret, digits.Strip(response), in, ocra.Window{}); err != nil {
		if errors.Is(err, ocra.ErrMismatch) {
			return ErrBadResponse
		}
		return fmt.Errorf("verifier: %w", err)
	}
	if chosen != number {
		return ErrWrongNumber
	}
	return nil
}

// Lockout counts a user's consecutive failures and says whether the user is
// locked. A lock is either timed (LockedUntil) or hard (Hard: only an
// administrator lifts it); the hard lock is explicit state, never a time
// far in the future, so that it survives any store.
type Lockout struct {
	Failures    int       // consecutive failures since the last success
	LockedUntil time.Time // end of a timed lock; zero: none
	Hard        bool      // locked until an administrator unlocks
}

// Locked reports whether the user is locked at now.
func (l Lockout) Locked(now time.Time) bool {
	return l.Hard || (!l.LockedUntil.IsZero() && now.Before(l.LockedUntil))
}

// Fail counts one failure and returns how many attempts are left before the
// (next) lock. From the threshold on, every further failure locks again, for
// LockoutDuration; at MaxFailures consecutive failures the lock is hard,
// until an administrator lifts it.
func (l *Lockout) Fail(cfg Config, now time.Time) int {
	cfg = cfg.WithDefaults()
	l.Failures++
	switch {
	case l.Failures >= cfg.MaxFailures:
		l.Hard, l.LockedUntil = true, time.Time{}
		return 0
	case l.Failures >= cfg.LockoutThreshold:
		l.LockedUntil = now.Add(cfg.LockoutDuration)
		return 0
	}
	return cfg.LockoutThreshold - l.Failures
}

// AttemptsLeft is how many failures are left before the next lock.
func (l Lockout) AttemptsLeft(cfg Config) int {
	cfg = cfg.WithDefaults()
	if l.Hard {
		return 0
	}
	n := cfg.LockoutThreshold - l.Failures
	if n < 1 {
		return 1 // after a timed lock, one try at a time
	}
	return n
}

// Succeed ends a run of failures.
func (l *Lockout) Succeed() { *l = Lockout{} }

// TempPasswordKind is the Kind of a delivery holding a temporary password.
const TempPasswordKind = "temp_password"

// NewTempPassword returns a random temporary password: 12 characters from
// an alphabet without look-alikes (about 69 bits).
func NewTempPassword(rand io.Reader) (string, error) {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"
	b := make([]byte, 12)
	for i := range b {
		v, err := randInt(rand, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b), nil
}

// DeliveryLabel binds a sealed delivery to its kind, id and device.
func DeliveryLabel(kind, deliveryID, deviceID string) string {
	return kind + "/" + deliveryID + "/" + deviceID
}

// SealTempPassword seals password to the device's delivery key.
func SealTempPassword(rand io.Reader, deliveryKey []byte, deliveryID, deviceID, password string) (label string, sealed []byte, err error) {
	label = DeliveryLabel(TempPasswordKind, deliveryID, deviceID)
	sealed, err = protocol.Seal(rand, deliveryKey, label, []byte(password))
	return label, sealed, err
}
