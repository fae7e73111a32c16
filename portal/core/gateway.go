package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"ibkey/portal/store"
)

// Message is one SMS or voice message with an activation code.
type Message struct {
	Time     time.Time `json:"time"`
	Channel  string    `json:"channel"`
	To       string    `json:"to"`
	Username string    `json:"username"`
	Code     string    `json:"code"`
	Text     string    `json:"text"`
}

// Gateway sends activation codes by SMS or voice.
type Gateway interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is the built-in Gateway: it appends each message as one JSON line
// to a file (mode 0600), for a developer or a test to read. It logs nothing.
type Outbox struct {
	mu   sync.Mutex
	path string
}

// NewOutbox returns an Outbox writing to path.
func NewOutbox(path string) *Outbox { return &Outbox{path: path} }

// Send appends m to the outbox file and syncs it.
func (o *Outbox) Send(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("core: outbox: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("core: outbox: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("core: outbox: %w", err)
	}
	return f.Close()
}

// maxOutboxRead caps how much of the outbox file Messages reads: its end.
const maxOutboxRead = 1 << 20

// Messages returns the messages of the outbox file, oldest first: those in
// its last MiB. A missing file has none.
func (o *Outbox) Messages(ctx context.Context) ([]Message, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := os.Open(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("core: outbox: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("core: outbox: %w", err)
	}
	// The last MiB, and the byte before it: whether the MiB begins a line.
	off := max(st.Size()-maxOutboxRead, 0)
	start := max(off-1, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, start, maxOutboxRead+1))
	if err != nil {
		return nil, fmt.Errorf("core: outbox: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if off > 0 {
		// Up to the first line break from the byte before the MiB: the
		// end of a line cut by the MiB, or nothing when the MiB begins
		// with a line.
		lines = lines[1:]
	}
	var out []Message
	for _, l := range lines {
		var m Message
		if l != "" && json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// messageText is what the person reads or hears.
func messageText(channel, code string) string {
	if channel == "voice" {
		return "Your IB Key activation code is " + strings.Join(strings.Split(code, ""), " ") + ". Again: " + strings.Join(strings.Split(code, ""), " ") + "."
	}
	return "IB Key activation code: " + code + ". It expires in 10 minutes. Do not share it."
}

// MaskPhone hides all but the last 4 digits of a phone number.
func MaskPhone(p string) string {
	if len(p) <= 4 {
		return strings.Repeat("*", len(p))
	}
	head := ""
	if strings.HasPrefix(p, "+") {
		head = "+"
		p = p[1:]
	}
	if len(p) <= 4 {
		return head + p
	}
	return head + strings.Repeat("*", len(p)-4) + p[len(p)-4:]
}

// MessageLister is a Gateway that can list what it sent, for the
// developer outbox page.
type MessageLister interface {
	Messages(ctx context.Context) ([]Message, error)
}

// Outbox returns the messages of a Gateway that lists them (the built-in
// Outbox), oldest first, else none.
func (s *Service) Outbox(ctx context.Context) ([]Message, error) {
	ml, ok := s.cfg.Gateway.(MessageLister)
	if !ok {
		return nil, nil
	}
	return ml.Messages(ctx)
}

// send hands a code to the gateway; the caller has counted and recorded
// it (checkSend, recordSend).
func (s *Service) send(ctx context.Context, acct store.Account, channel, code string) error {
	if s.cfg.Gateway == nil {
		return ErrNoGateway
	}
	m := Message{Time: s.now().UTC(), Channel: channel, To: acct.Phone, Username: acct.Username, Code: code, Text: messageText(channel, code)}
	if err := s.cfg.Gateway.Send(ctx, m); err != nil {
		return &GatewayError{err}
	}
	return nil
}
