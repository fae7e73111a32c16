package protocol

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxAnswer caps the size of an answer the client reads.
const maxAnswer = 1 << 20

// Client is the device's client of the service API. The zero HTTP uses
// http.DefaultClient.
type Client struct {
	BaseURL string
	HTTP    *http.Client
}

// AuthScheme is the scheme of the Authorization header of device calls:
// "Authorization: Device <base64url channel token>".
const AuthScheme = "Device"

// Enroll starts an enrollment with the account's credentials.
func (c *Client) Enroll(ctx context.Context, r EnrollRequest) (Enrollment, error) {
	var out Enrollment
	err := c.do(ctx, "POST", "/api/v1/enrollments", nil, r, &out)
	return out, err
}

// EnrollSession exchanges the Session ID of a Client Portal link (see
// ParseEnrollLink) for its enrollment. No code is sent: activate it with
// ActivateRequest.Session set to the answer's Session.
func (c *Client) EnrollSession(ctx context.Context, session string) (Enrollment, error) {
	var out Enrollment
	err := c.do(ctx, "POST", "/api/v1/enrollments/session", nil, SessionRequest{Session: session}, &out)
	return out, err
}

// Resend asks for a new activation code, by channel or by the other one.
func (c *Client) Resend(ctx context.Context, enrollmentID, channel string) (Enrollment, error) {
	var out Enrollment
	err := c.do(ctx, "POST", "/api/v1/enrollments/"+url.PathEscape(enrollmentID)+"/resend", nil, ResendRequest{Channel: channel}, &out)
	return out, err
}

// Activate sends the activation code and the device's keys.
func (c *Client) Activate(ctx context.Context, enrollmentID string, r ActivateRequest) (Activation, error) {
	var out Activation
	err := c.do(ctx, "POST", "/api/v1/enrollments/"+url.PathEscape(enrollmentID)+"/activate", nil, r, &out)
	return out, err
}

// Confirm proves that the device derived the secret; the device becomes
// the account's one active device.
func (c *Client) Confirm(ctx context.Context, deviceID string, token []byte, response string) error {
	return c.do(ctx, "POST", devPath(deviceID, "/confirm"), token, ConfirmRequest{Response: response}, &Status{})
}

// Events long-polls the device channel for events after seq, waiting at
// most wait (capped by the service).
func (c *Client) Events(ctx context.Context, deviceID string, token []byte, after int64, wait time.Duration) (Events, error) {
	return c.EventsWith(ctx, deviceID, token, EventsQuery{After: after, Wait: wait})
}

// EventsQuery is what a long-poll of the device channel asks for.
type EventsQuery struct {
	After int64         // the events after this sequence number
	Wait  time.Duration // the longest wait for one (capped by the service)
	// Pending is PendingDigest of the Pending list of the last answer:
	// the service answers at once when its list is another, so that a
	// request closed between two polls is told now. "" leaves it out.
	Pending string
}

// EventsWith long-polls the device channel as q says.
func (c *Client) EventsWith(ctx context.Context, deviceID string, token []byte, q EventsQuery) (Events, error) {
	var out Events
	v := url.Values{}
	v.Set("after", strconv.FormatInt(q.After, 10))
	v.Set("wait", strconv.Itoa(int(q.Wait/time.Millisecond)))
	if q.Pending != "" {
		v.Set("pending", q.Pending)
	}
	err := c.do(ctx, "GET", devPath(deviceID, "/events")+"?"+v.Encode(), token, nil, &out)
	return out, err
}

// Approve answers a login request.
func (c *Client) Approve(ctx context.Context, deviceID string, token []byte, r ApprovalRequest) (Status, error) {
	var out Status
	err := c.do(ctx, "POST", devPath(deviceID, "/approvals"), token, r, &out)
	return out, err
}

// InboxChallenge asks for a challenge that opens the inbox.
func (c *Client) InboxChallenge(ctx context.Context, deviceID string, token []byte) (InboxChallenge, error) {
	var out InboxChallenge
	err := c.do(ctx, "POST", devPath(deviceID, "/inbox/challenge"), token, struct{}{}, &out)
	return out, err
}

// Inbox answers the inbox challenge and returns the sealed deliveries.
func (c *Client) Inbox(ctx context.Context, deviceID string, token []byte, r InboxRequest) (Inbox, error) {
	var out Inbox
	err := c.do(ctx, "POST", devPath(deviceID, "/inbox"), token, r, &out)
	return out, err
}

// PINChallenge asks for a challenge whose response proves the PIN and
// does nothing else (the inbox stays closed).
func (c *Client) PINChallenge(ctx context.Context, deviceID string, token []byte) (ProofChallenge, error) {
	var out ProofChallenge
	err := c.do(ctx, "POST", devPath(deviceID, "/pin-challenge"), token, struct{}{}, &out)
	return out, err
}

// ProvePIN answers a PIN challenge. A wrong response unwraps to
// ErrInvalidResponse and counts toward the user's lockout.
func (c *Client) ProvePIN(ctx context.Context, deviceID string, token []byte, r ProofResponse) error {
	return c.do(ctx, "POST", devPath(deviceID, "/pin-proof"), token, r, &Status{})
}

func devPath(id, rest string) string { return "/api/v1/devices/" + url.PathEscape(id) + rest }

func (c *Client) do(ctx context.Context, method, path string, token []byte, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("protocol: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != nil {
		req.Header.Set("Authorization", AuthScheme+" "+base64.RawURLEncoding.EncodeToString(token))
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("protocol: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("protocol: read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		var eb ErrorBody
		e := &Error{Status: resp.StatusCode, AttemptsLeft: -1}
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			e.Code, e.Message = eb.Error, eb.Message
			if eb.AttemptsLeft != nil {
				e.AttemptsLeft = *eb.AttemptsLeft
			}
		} else {
			e.Code = http.StatusText(resp.StatusCode)
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("protocol: decode answer of %s: %w", path, err)
		}
	}
	return nil
}
