// Command hello is Fyne's hello world: the yardstick of the web app's
// size and start (scripts/web-bench.sh builds it as make web builds the
// app).
package main

import (
	"fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

func main() {
	a := app.New()
	w := a.NewWindow("Hello")
	w.SetContent(widget.NewLabel("Hello Fyne!"))
	w.ShowAndRun()
}
