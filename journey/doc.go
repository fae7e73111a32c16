// Package journey holds the real-window test of ibkey (journey_test.go):
// the path a person walks, done by a script. It starts the demo as a
// person does (scripts/run.sh: the ibkey service with its outbox and
// developer outbox page, and the app pointed at it) under Xvfb, drives the
// app's window with xdotool and the Client Portal in headless Chromium
// (chromedp): Add User with the code from the outbox, a login answered with
// the app's response string (read from the clipboard after Copy, with
// xclip), and a login approved in the app with number matching. After each
// step it keeps a screenshot of the window (ImageMagick's import) and
// checks that the window kept its size; at the end it quits the app with
// Ctrl+Q and reads what the app wrote on stderr.
//
// It needs Xvfb, xdotool, xclip, ImageMagick and Chromium (scripts/deps.sh
// test installs them) and skips without them, except under CI. The
// screenshots go to build/journey/ in the repository (the test prints the
// folder).
package journey
