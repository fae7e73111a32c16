//go:build js

package web

import (
	"encoding/json"
	"strings"
	"syscall/js"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/mobile"

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
	g.Set("ibkeyFieldAt", js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) != 2 || args[0].Type() != js.TypeNumber || args[1].Type() != js.TypeNumber {
			return ""
		}
		// Called from a touch's end, which the app has not seen yet.
		// A js.Func runs while every other goroutine waits (WebAssembly
		// has one thread, and Go switches goroutines only where they
		// block): the app's goroutine is waiting for its next event, and
		// its screen is whole.
		return fieldAt(u, float32(args[0].Float()), float32(args[1].Float()))
	}))
	g.Set("ibkeyLayout", js.FuncOf(func(js.Value, []js.Value) any {
		// A screen just shown is laid out as its first frame is drawn:
		// read it after the next frame.
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

// fieldAt is the keyboard kind (keyboardKind) of the text field at x, y
// (CSS pixels) on the screen shown, or "" when there is none.
func fieldAt(u *app.UI, x, y float32) string {
	c := u.Window().Canvas()
	k := c.Scale() / float32(js.Global().Get("devicePixelRatio").Float())
	p := fyne.NewPos(x/k, y/k)
	d := fyne.CurrentApp().Driver()
	for _, o := range u.Widgets() {
		f, ok := o.(fyne.Focusable)
		if _, field := o.(mobile.Keyboardable); !ok || !field || !o.Visible() {
			continue
		}
		if dis, ok := o.(fyne.Disableable); ok && dis.Disabled() {
			continue
		}
		at, size := d.AbsolutePositionForObject(o), o.Size()
		if p.X >= at.X && p.Y >= at.Y && p.X < at.X+size.Width && p.Y < at.Y+size.Height {
			return keyboardKind(f)
		}
	}
	return ""
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

// nextFrame waits until the browser has drawn the next frame: a frame
// begins, then the one after.
func nextFrame() {
	done := make(chan struct{})
	var cb js.Func
	n := 0
	cb = js.FuncOf(func(js.Value, []js.Value) any {
		if n++; n < 2 {
			js.Global().Call("requestAnimationFrame", cb)
			return nil
		}
		cb.Release()
		close(done)
		return nil
	})
	js.Global().Call("requestAnimationFrame", cb)
	<-done
}

// promise is a JavaScript promise of what f returns, f run on the app's
// goroutine after the next frame.
func promise(f func() string) js.Value {
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, args []js.Value) any {
		resolve := args[0]
		go func() {
			nextFrame()
			var v string
			fyne.DoAndWait(func() { v = f() })
			resolve.Invoke(v)
			executor.Release()
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}
