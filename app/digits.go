package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/mobile"
	"fyne.io/fyne/v2/widget"
)

// onlyDigits drops everything but the ASCII digits of s.
func onlyDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// group writes the digits of s in groups of n from the left, space
// separated: group("123456", 3) is "123 456", group("12345678", 4) is
// "1234 5678".
func group(s string, n int) string {
	d := onlyDigits(s)
	if n <= 0 {
		return d
	}
	var b strings.Builder
	for i := 0; i < len(d); i++ {
		if i > 0 && i%n == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(d[i])
	}
	return b.String()
}

// digitEntry takes digits only, at most max, and shows them grouped.
type digitEntry struct {
	widget.Entry
	max, group int
	busy       bool
}

func newDigitEntry(max, n int) *digitEntry {
	e := &digitEntry{max: max, group: n}
	e.ExtendBaseWidget(e)
	e.OnChanged = func(string) { e.regroup() }
	return e
}

// regroup rewrites the text as grouped digits, the cursor at the end.
func (e *digitEntry) regroup() {
	if e.busy {
		return
	}
	d := onlyDigits(e.Text)
	if len(d) > e.max {
		d = d[:e.max]
	}
	want := group(d, e.group)
	if want == e.Text {
		return
	}
	e.busy = true
	e.SetText(want)
	e.CursorColumn = len([]rune(want))
	e.Refresh()
	e.busy = false
}

// TypedRune takes digits only.
func (e *digitEntry) TypedRune(r rune) {
	if r < '0' || r > '9' || len(onlyDigits(e.Text)) >= e.max {
		return
	}
	e.CursorColumn = len([]rune(e.Text))
	e.Entry.TypedRune(r)
}

// TypedShortcut pastes digits only.
func (e *digitEntry) TypedShortcut(s fyne.Shortcut) {
	if p, ok := s.(*fyne.ShortcutPaste); ok && p.Clipboard != nil {
		for _, r := range onlyDigits(p.Clipboard.Content()) {
			e.TypedRune(r)
		}
		return
	}
	e.Entry.TypedShortcut(s)
}

// Keyboard asks phones for the number pad.
func (e *digitEntry) Keyboard() mobile.KeyboardType { return mobile.NumberKeyboard }
