package portal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
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
		return fmt.Errorf("portal: outbox: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("portal: outbox: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("portal: outbox: %w", err)
	}
	return f.Close()
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
