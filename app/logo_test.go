package app

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"ibkey/assets"
)

// The logo is the icon made small: 288×288 pixels of 8 bits, and alike
// the icon sampled at the same places (a mean difference of a few levels
// of 255, from the resampling).
func TestLogoIsTheIcon(t *testing.T) {
	logo, ok := logoImage().(*image.NRGBA)
	if !ok {
		t.Fatalf("logo %T, want *image.NRGBA (8 bits a channel)", logoImage())
	}
	if got := logo.Bounds().Size(); got != image.Pt(288, 288) {
		t.Fatalf("logo %v pixels, want 288×288", got)
	}
	icon, err := png.Decode(bytes.NewReader(assets.Icon.Content()))
	if err != nil {
		t.Fatal(err)
	}
	ib := icon.Bounds()
	var sum, n float64
	for y := range 288 {
		for x := range 288 {
			c := logo.NRGBAAt(x, y)
			sx := ib.Min.X + (2*x+1)*ib.Dx()/(2*288)
			sy := ib.Min.Y + (2*y+1)*ib.Dy()/(2*288)
			r, g, b, a := icon.At(sx, sy).RGBA() // premultiplied, 16 bits
			lr, lg, lb, la := c.RGBA()
			for _, d := range [4][2]uint32{{r, lr}, {g, lg}, {b, lb}, {a, la}} {
				sum += absDiff(d[0], d[1]) / 257
				n++
			}
		}
	}
	if mean := sum / n; mean > 4 {
		t.Errorf("logo and icon differ by %.1f levels of 255 on average, want at most 4: remake app/logo.png (see logo.go)", mean)
	}
}

func absDiff(a, b uint32) float64 {
	if a > b {
		return float64(a - b)
	}
	return float64(b - a)
}
