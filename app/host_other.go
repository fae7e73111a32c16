//go:build !js

package app

import "runtime"

// hostOS is the operating system the app runs on, as a GOOS value.
func hostOS() string { return runtime.GOOS }
