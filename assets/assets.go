// Package assets holds the resources bundled into the app: its icon.
package assets

import (
	_ "embed"

	"fyne.io/fyne/v2"
)

//go:embed icon.png
var iconPNG []byte

// Icon is the app's icon, a white key on red.
var Icon = fyne.NewStaticResource("icon.png", iconPNG)
