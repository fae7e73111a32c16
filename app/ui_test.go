package app

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestWindowTitle(t *testing.T) {
	u := New(test.NewTempApp(t))
	if got := u.Window().Title(); got != "ibkey" {
		t.Errorf("title %q, want %q", got, "ibkey")
	}
}
