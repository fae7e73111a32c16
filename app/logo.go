package app

import (
	"bytes"
	_ "embed"
	"image"
	"image/png"
	"sync"

	"fyne.io/fyne/v2"
)

// logoPNG is the login screen's logo: the app's icon (assets/icon.png,
// 512×512 pixels of 16 bits a channel) made small once, here rather than
// at every start: 288×288 pixels (96 points at 3× scale) of 8 bits, by
//
//	convert assets/icon.png -resize 288x288 -depth 8 -strip PNG32:app/logo.png
//
// Decoding the icon and scaling it down took a third of the CPU time to the
// first frame (docs/APP.md). TestLogoIsTheIcon keeps the two alike.
//
//go:embed logo.png
var logoPNG []byte

// logoImage is the logo decoded, once: a canvas.Image made from a resource
// decodes it again at every Refresh, and the login screen is built again at
// every lock.
var logoImage = sync.OnceValue(func() image.Image {
	img, err := png.Decode(bytes.NewReader(logoPNG))
	if err != nil {
		fyne.LogError("decode the logo", err)
		return nil
	}
	return img
})
