package platform

import (
	"errors"
	"fmt"
	"syscall/js"
)

// Helpers over syscall/js for the browser backends (IndexedDB, Web Locks,
// WebCrypto, WebAuthn). They block the calling goroutine until the
// browser answers: call them from a goroutine of the app, never from
// inside a JavaScript callback (the browser's event loop would wait for
// the callback, and the callback for the event loop).

// jsError is an exception or a rejection from the browser: a DOMException
// keeps its name (NotAllowedError, ConstraintError, ...).
type jsError struct {
	Name, Message string
}

func (e *jsError) Error() string {
	if e.Message == "" {
		return "platform: browser: " + e.Name
	}
	return "platform: browser: " + e.Name + ": " + e.Message
}

func toError(v js.Value) error {
	if v.Type() == js.TypeObject {
		name, msg := v.Get("name"), v.Get("message")
		if name.Type() == js.TypeString {
			e := &jsError{Name: name.String()}
			if msg.Type() == js.TypeString {
				e.Message = msg.String()
			}
			return e
		}
	}
	if v.IsUndefined() || v.IsNull() {
		return &jsError{Name: "Error"}
	}
	return &jsError{Name: "Error", Message: v.String()}
}

// errName reports whether err is a browser error called name.
func errName(err error, name string) bool {
	var e *jsError
	return errors.As(err, &e) && e.Name == name
}

// call calls v's method m, turning an exception into an error.
func call(v js.Value, m string, args ...any) (r js.Value, err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(js.Error); ok {
				err = toError(e.Value)
				return
			}
			err = fmt.Errorf("platform: browser: %v", p)
		}
	}()
	return v.Call(m, args...), nil
}

// await waits for the promise p and returns its value or its rejection.
func await(p js.Value) (js.Value, error) {
	if p.Type() != js.TypeObject || p.Get("then").Type() != js.TypeFunction {
		return p, nil
	}
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	ok := js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- result{v: arg(a)}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, a []js.Value) any {
		ch <- result{err: toError(arg(a))}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	p.Call("then", ok, fail)
	r := <-ch
	return r.v, r.err
}

// callAwait calls v's method m and waits for the promise it returns.
func callAwait(v js.Value, m string, args ...any) (js.Value, error) {
	p, err := call(v, m, args...)
	if err != nil {
		return js.Value{}, err
	}
	return await(p)
}

func arg(a []js.Value) js.Value {
	if len(a) == 0 {
		return js.Undefined()
	}
	return a[0]
}

// toJS copies b into a new Uint8Array.
func toJS(b []byte) js.Value {
	u := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(u, b)
	return u
}

// fromJS copies a Uint8Array, an ArrayBuffer or a view of one, at most
// limit bytes (limit < 0: all of it).
func fromJS(v js.Value, limit int) ([]byte, error) {
	u8 := js.Global().Get("Uint8Array")
	switch {
	case v.InstanceOf(u8):
	case v.InstanceOf(js.Global().Get("ArrayBuffer")):
		v = u8.New(v)
	case v.Type() == js.TypeObject && v.Get("buffer").Type() == js.TypeObject:
		v = u8.New(v.Get("buffer"), v.Get("byteOffset"), v.Get("byteLength"))
	default:
		return nil, errors.New("platform: browser: not bytes")
	}
	n := v.Length()
	if limit >= 0 && n > limit {
		v, n = v.Call("subarray", 0, limit), limit
	}
	b := make([]byte, n)
	js.CopyBytesToGo(b, v)
	return b, nil
}

func defined(v js.Value) bool { return !v.IsUndefined() && !v.IsNull() }
