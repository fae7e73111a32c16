package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/skip2/go-qrcode"
)

// TestAddDeviceWebApp: when the service serves the web app, the Add a
// device page links to it with the Session ID in the fragment, and the QR
// code is that link, which a phone's camera opens in the browser.
func TestAddDeviceWebApp(t *testing.T) {
	for _, webApp := range []bool{false, true} {
		e := newEnv(t, Options{WebApp: webApp})
		e.login("alice", alicePassword, aliceKey)
		wantRedirect(t, e.stepUp("device"), "/device")
		enr := e.fake.enrollments()[0]
		appLink := "https://ibkey.example/app/#enroll=" + enr.SessionID
		page := e.get("/device")
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, enr.SessionID, enr.Link) // the CLI's link stays
		linked := strings.Contains(html.UnescapeString(page.body), `<a id="app-link" href="`+appLink+`">`)
		if linked != webApp {
			t.Errorf("web app %v: the page links to it: %v", webApp, linked)
		}
		want := enr.Link
		if webApp {
			want = appLink
		}
		png, err := qrcode.Encode(want, qrcode.Medium, qrSize)
		if err != nil {
			t.Fatal(err)
		}
		if qr := e.get("/device/qr.png"); qr.body != string(png) {
			t.Errorf("web app %v: the QR code is not %s", webApp, want)
		}
	}
}
