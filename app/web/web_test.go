package web

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/mobile"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestEnrollSession(t *testing.T) {
	for fragment, want := range map[string]string{
		"enroll=ABCD-EFGH-JKLM-NPQR":           "ABCD-EFGH-JKLM-NPQR",
		"enroll=ABCDEFGHJKLMNPQR&x=1":          "ABCDEFGHJKLMNPQR",
		"x=1&enroll=%20ABCD-EFGH-JKLM-NPQR%20": "ABCD-EFGH-JKLM-NPQR",
		"":                                     "",
		"enroll=":                              "",
		"enroll":                               "",
		"session=ABCD":                         "",
		"enroll=%zz":                           "",
	} {
		if got := enrollSession(fragment); got != want {
			t.Errorf("enrollSession(%q) = %q, want %q", fragment, got, want)
		}
	}
}

type digits struct{ widget.Entry }

func (*digits) Keyboard() mobile.KeyboardType { return mobile.NumberKeyboard }

func TestKeyboardKind(t *testing.T) {
	test.NewTempApp(t)
	d := &digits{}
	d.ExtendBaseWidget(d)
	for _, c := range []struct {
		f    fyne.Focusable
		want string
	}{
		{widget.NewEntry(), "text"},
		{widget.NewPasswordEntry(), "password"},
		{widget.NewMultiLineEntry(), "text"},
		{d, "number"},
		{nil, "text"},
	} {
		if got := keyboardKind(c.f); got != c.want {
			t.Errorf("keyboardKind(%T) = %q, want %q", c.f, got, c.want)
		}
	}
}
