//go:build js

package web

import (
	"encoding/json"
	"strings"
	"syscall/js"

	"fyne.io/fyne/v2"

	"ibkey/app"
)

// maxTyped caps what one call of ibkeyKeyboard types or erases.
const maxTyped = 4096

// Start registers the page's functions (see the package's documentation)
// and starts Add User when the page was opened with an enrollment link.
// Call it before u.ShowAndRun.
func Start(u *app.UI) {
	g := js.Global()
	g.Set("ibkeyKeyboard", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 2 || args[0].Type() != js.TypeNumber || args[1].Type() != js.TypeString {
			return nil
		}
		deleted, inserted := min(max(args[0].Int(), 0), maxTyped), args[1].String()
		// JavaScript calls this once per input event, in order, and
		// fyne.Do keeps that order.
		fyne.Do(func() { typeInto(u.Window().Canvas().Focused(), deleted, inserted) })
		return nil
	}))
	g.Set("ibkeyFocusKind", js.FuncOf(func(js.Value, []js.Value) any {
		// The page calls this while the app focuses a field: the app's
		// goroutine waits in that call, and this runs on it.
		return keyboardKind(u.Window().Canvas().Focused())
	}))
	g.Set("ibkeyLayout", js.FuncOf(func(js.Value, []js.Value) any {
		return promise(func() string {
			b, _ := json.Marshal(layout(u))
			return string(b)
		})
	}))

	loc := g.Get("location")
	enroll := func() {
		session := enrollSession(strings.TrimPrefix(loc.Get("hash").String(), "#"))
		if session == "" {
			return
		}
		// Out of the address bar, the history and a reload.
		g.Get("history").Call("replaceState", nil, "", loc.Get("pathname").String()+loc.Get("search").String())
		go fyne.Do(func() { u.EnrollWithLink(session) })
	}
	g.Call("addEventListener", "hashchange", js.FuncOf(func(js.Value, []js.Value) any {
		enroll()
		return nil
	}))
	enroll()
}

// typeInto replays on f what a phone keyboard did: deleted characters
// erased before the cursor, then inserted typed.
func typeInto(f fyne.Focusable, deleted int, inserted string) {
	if f == nil {
		return
	}
	for range deleted {
		f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyBackspace})
	}
	n := 0
	for _, r := range inserted {
		if n++; n > maxTyped {
			break
		}
		if r == '\n' || r == '\r' {
			f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
			continue
		}
		f.TypedRune(r)
	}
}

// layout is where the widgets of the screen shown are, in CSS pixels.
func layout(u *app.UI) Layout {
	c := u.Window().Canvas()
	// The canvas is drawn at Scale device pixels per unit; a CSS pixel
	// is devicePixelRatio device pixels.
	k := c.Scale() / float32(js.Global().Get("devicePixelRatio").Float())
	d := fyne.CurrentApp().Driver()
	focused := c.Focused()
	l := Layout{Screen: u.Screen(), Widgets: map[string]Rect{}}
	for id, o := range u.Widgets() {
		p, s := d.AbsolutePositionForObject(o), o.Size()
		r := Rect{X: p.X * k, Y: p.Y * k, W: s.Width * k, H: s.Height * k, Visible: o.Visible()}
		if d, ok := o.(fyne.Disableable); ok {
			r.Disabled = d.Disabled()
		}
		l.Widgets[id] = r
		if f, ok := o.(fyne.Focusable); ok && focused != nil && f == focused {
			l.Focused = id
		}
	}
	return l
}

// promise is a JavaScript promise of what f returns, f run on the app's
// goroutine.
func promise(f func() string) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve := args[0]
		go func() {
			var v string
			fyne.DoAndWait(func() { v = f() })
			resolve.Invoke(v)
			executor.Release()
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}
