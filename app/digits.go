package app

import (
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/mobile"
	"fyne.io/fyne/v2/widget"

	"ibkey/authcore/digits"
)

// onlyDigits drops everything but the ASCII digits of s.
func onlyDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if digits.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// group writes the digits s in groups of n from the left, space separated
// (authcore/digits.Group): group("123456", 3) is "123 456".
func group(s string, n int) string { return digits.Group(s, n) }

// digitEntry takes digits only, at most max, and shows them in groups of
// group. The separators people type between groups (a space, a dash) are
// skipped; a typed character over a selection replaces it, as in any
// entry. What it does not take it says through say: a character that is
// not a digit (notDigit's words), a digit beyond max (full's), and "" once
// a digit is taken again.
type digitEntry struct {
	widget.Entry
	max, group int
	notDigit   func(r rune) string
	full       string
	say        func(string)
	said       bool
	busy       bool
}

func newDigitEntry(max, n int) *digitEntry {
	e := &digitEntry{max: max, group: n}
	e.ExtendBaseWidget(e)
	e.OnChanged = func(string) { e.regroup() }
	return e
}

// refuse says why a character was not taken.
func (e *digitEntry) refuse(word string) {
	if e.say != nil {
		e.say(word)
		e.said = true
	}
}

// took clears what refuse said, once a digit is taken.
func (e *digitEntry) took() {
	if e.said && e.say != nil {
		e.say("")
	}
	e.said = false
}

// regroup rewrites the text as grouped digits (at most max), keeping the
// cursor after the same digit.
func (e *digitEntry) regroup() {
	if e.busy {
		return
	}
	before := []rune(e.Text)
	at := min(e.CursorColumn, len(before))
	n := len(onlyDigits(string(before[:at]))) // digits before the cursor
	d := onlyDigits(e.Text)
	if len(d) > e.max {
		d = d[:e.max]
		e.refuse(e.full)
	}
	want := group(d, e.group)
	if want == e.Text {
		return
	}
	e.busy = true
	e.SetText(want)
	col := 0
	for i, r := range want {
		if n == 0 {
			break
		}
		if digits.IsDigit(r) {
			n--
		}
		col = i + 1
	}
	e.CursorColumn = col
	e.Refresh()
	e.busy = false
}

// TypedRune takes a digit while there is room for it, or over a
// selection; it skips a separator and refuses anything else with a word.
func (e *digitEntry) TypedRune(r rune) {
	switch {
	case digits.IsSeparator(r):
		return
	case !digits.IsDigit(r):
		if e.notDigit != nil {
			e.refuse(e.notDigit(r))
		}
		return
	case len(onlyDigits(e.Text)) >= e.max && onlyDigits(e.SelectedText()) == "":
		e.refuse(e.full)
		return
	}
	e.took()
	e.Entry.TypedRune(r)
}

// TypedShortcut pastes as if the clipboard's text were typed: digits
// taken, separators skipped, and one word for what was not taken.
func (e *digitEntry) TypedShortcut(s fyne.Shortcut) {
	if p, ok := s.(*fyne.ShortcutPaste); ok && p.Clipboard != nil {
		var bad rune
		for _, r := range p.Clipboard.Content() {
			if !digits.IsDigit(r) && !digits.IsSeparator(r) {
				if bad == 0 {
					bad = r
				}
				continue
			}
			e.TypedRune(r)
		}
		if bad != 0 && e.notDigit != nil {
			e.refuse(e.notDigit(bad))
		}
		return
	}
	e.Entry.TypedShortcut(s)
}

// Keyboard asks phones for the number pad.
func (e *digitEntry) Keyboard() mobile.KeyboardType { return mobile.NumberKeyboard }
