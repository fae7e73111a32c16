package app

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// approvalState is the seamless login being answered.
type approvalState struct {
	req    LoginRequest
	number int    // 0 until one is chosen
	typed  string // digits typed toward a number
	depth  int    // the stack's depth before the approval screens
	// answering is true while this app's answer is on its way: the
	// request's end (Over) then comes from the answer itself.
	answering bool
	// outcome of the answer, for the result screen.
	title, text string
	ok, gone    bool
}

// handleEvent takes an event from Watch, on the UI's goroutine.
func (u *UI) handleEvent(ev Event) {
	wasOnline := u.online
	u.online = ev.Online
	changed := wasOnline != u.online
	if ev.Over != nil {
		changed = u.requestOver(*ev.Over) || changed
	}
	if r := ev.Request; r != nil && !slices.ContainsFunc(u.requests, func(x LoginRequest) bool { return x.Key() == r.Key() }) {
		u.requests = append(u.requests, *r)
		if !u.inApproval() {
			u.showNextRequest()
			return
		}
		changed = true
	}
	if changed && (u.current() == "home" || u.current() == "2fa" || u.current() == "authenticate") {
		u.render()
	}
}

// requestOver drops a request that is no longer waiting. When its
// approval is shown and not being answered from here, the approval ends
// with a word; it reports whether the list changed.
func (u *UI) requestOver(k RequestKey) bool {
	n := len(u.requests)
	u.requests = slices.DeleteFunc(u.requests, func(r LoginRequest) bool { return r.Key() == k })
	if u.inApproval() && u.approval.req.Key() == k && !u.approval.answering && u.current() != "approve-result" {
		u.approval.gone = true
		u.finishApproval(false, T("No longer waiting"), T("This login was answered in the browser, refused, or has expired. There is nothing to do here."))
	}
	return len(u.requests) != n
}

// dropRequestsOf drops the requests sent to device (its user was removed).
func (u *UI) dropRequestsOf(device string) {
	for _, r := range slices.Clone(u.requests) {
		if r.Device == device {
			u.requestOver(r.Key())
		}
	}
}

// requestUser is the name of the user a request is for now: it follows a
// rename (the request names the device, which does not change).
func (u *UI) requestUser(r LoginRequest) string {
	if us, ok := u.userOfDevice(r.Device); ok {
		return us.Name
	}
	return r.User
}

// userOfDevice is the user whose device id is device.
func (u *UI) userOfDevice(device string) (User, bool) {
	if device == "" {
		return User{}, false
	}
	users, _ := u.auth.Users()
	for _, us := range users {
		if us.Device == device {
			return us, true
		}
	}
	return User{}, false
}

// placeText is where a request comes from: the place and the address, or
// the address alone when the place is unknown.
func placeText(r LoginRequest) string {
	switch r.Place {
	case "":
		return r.IP
	case PlaceLocal:
		return T("this network") + " (" + r.IP + ")"
	}
	return r.Place + " (" + r.IP + ")"
}

func (u *UI) inApproval() bool {
	for _, s := range u.stack {
		if len(s.id) >= 7 && s.id[:7] == "approve" {
			return true
		}
	}
	return false
}

// showNextRequest shows the oldest request waiting.
func (u *UI) showNextRequest() {
	if len(u.requests) == 0 {
		return
	}
	u.approval = approvalState{req: u.requests[0], depth: len(u.stack)}
	u.push(u.approveScreen())
}

// approveScreen shows the request's context and its three numbers.
// The keyboard chooses too: the number's two digits, then Enter.
func (u *UI) approveScreen() screen {
	return screen{id: "approve", title: T("Login request"), onRune: u.approveRune, onKey: func(k *fyne.KeyEvent) {
		if (k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter) && u.approval.number != 0 {
			u.approveUnlock()
		}
	}, build: func() fyne.CanvasObject {
		r := u.approval.req
		now := u.opts.Now()
		when := r.Time.In(now.Location()).Format("15:04")
		if ago := now.Sub(r.Time); ago >= 0 && ago < 60e9 {
			when += " · " + T("just now")
		}
		form := widget.NewForm(
			widget.NewFormItem(T("User"), value(u.requestUser(r))),
			widget.NewFormItem(T("Application"), value(r.App)),
			widget.NewFormItem(T("Place"), value(placeText(r))),
			widget.NewFormItem(T("Browser"), value(r.Browser)),
			widget.NewFormItem(T("Time"), value(when)),
		)
		nums := container.NewGridWithColumns(3)
		for _, n := range r.Numbers {
			n := n
			b := u.button("num:"+strconv.Itoa(n), strconv.Itoa(n), nil, func() {
				u.approval.number = n
				u.replace(u.approveScreen())
			})
			if u.approval.number == n {
				b.Importance = widget.HighImportance
			}
			nums.Add(b)
		}
		approve := u.primary("approve", T("Approve"), u.approveUnlock)
		if u.approval.number == 0 {
			approve.Disable()
		}
		deny := u.button("deny", T("Deny"), theme.CancelIcon(), func() { u.push(u.denyScreen()) })
		deny.Importance = widget.DangerImportance
		box := container.NewVBox(heading(T("Is this you logging in?")), form)
		if !u.online {
			box.Add(u.offlineBanner())
		}
		box.Add(para(T("Tap the number shown in your browser.")))
		box.Add(nums)
		box.Add(container.NewGridWithColumns(2, deny, approve))
		return box
	}}
}

// approveRune takes a digit typed on the approval: two digits that are one
// of the request's numbers choose it.
func (u *UI) approveRune(r rune) {
	if r < '0' || r > '9' {
		return
	}
	u.approval.typed += string(r)
	if len(u.approval.typed) < 2 {
		return
	}
	typed := u.approval.typed
	u.approval.typed = ""
	for _, n := range u.approval.req.Numbers {
		if strconv.Itoa(n) == typed {
			u.approval.number = n
			u.replace(u.approveScreen())
			return
		}
	}
	u.setMessage(T("{{.Number}} is not one of the three numbers. Type the number shown in your browser.", map[string]any{"Number": typed}), true)
}

// approveUnlock asks the PIN or the biometric check, then approves.
func (u *UI) approveUnlock() {
	r := u.approval.req
	gate := u.gateOf(r.User)
	if us, ok := u.userOfDevice(r.Device); ok {
		gate = us.Gate
	}
	reason := T("Approve the login of {{.User}}", map[string]any{"User": u.requestUser(r)})
	switch {
	case u.words.PINBeforeCode && gate.HasPIN():
		u.push(u.unlockScreen("approve-unlock", T("Approve"), u.approve))
	case gate.HasBiometric() && bioName(u.opts.Bio) != "":
		u.approve(Unlock{Biometric: true, Reason: reason})
	default:
		u.push(u.unlockScreen("approve-unlock", T("Approve"), u.approve))
	}
}

// gateOf is the gate of the user called name (GatePIN when unknown).
func (u *UI) gateOf(name string) Gate {
	users, _ := u.auth.Users()
	for _, us := range users {
		if us.Name == name {
			return us.Gate
		}
	}
	return GatePIN
}

func (u *UI) approve(un Unlock) {
	r, n := u.approval.req, u.approval.number
	u.approval.answering = true
	u.async(func(ctx context.Context) error {
		return u.auth.Approve(ctx, r, n, un)
	}, func(err error) {
		u.approval.answering = false
		switch {
		case err == nil:
			u.finishApproval(true, T("Approved"), T("You are logging in. Go back to your browser."))
		case errors.Is(err, ErrOffline):
			u.online = false
			u.replace(u.offlineScreen())
		case errors.Is(err, ErrWrongPIN):
			// The service refused the response and spent the request.
			u.finishApproval(false, T("Not approved"), T("Wrong PIN. The login was refused: start it again in the browser."))
		case errors.Is(err, ErrCancelled), errors.Is(err, ErrBadPIN):
			// Nothing reached the service: try again, unless the request
			// ended meanwhile.
			if !slices.ContainsFunc(u.requests, func(x LoginRequest) bool { return x.Key() == r.Key() }) {
				u.finishApproval(false, T("No longer waiting"), T("This login was answered in the browser, refused, or has expired. There is nothing to do here."))
				return
			}
			u.showError(err)
		default:
			u.finishApproval(false, T("Not approved"), explain(err))
		}
	})
}

// denyScreen asks why.
func (u *UI) denyScreen() screen {
	return screen{id: "approve-deny", title: T("Deny"), build: func() fyne.CanvasObject {
		fraud := u.button("deny-fraud", T("I did not try to log in"), theme.WarningIcon(), func() { u.deny(DenyFraud) })
		fraud.Importance = widget.DangerImportance
		return container.NewVBox(
			heading(T("Why do you deny this login?")),
			fraud,
			caption(T("Someone may know your password. The login is blocked and reported; change your password.")),
			u.button("deny-mistake", T("I started it by mistake"), nil, func() { u.deny(DenyMistake) }),
			caption(T("The login is cancelled. Nothing else happens.")),
		)
	}}
}

func (u *UI) deny(reason DenyReason) {
	r := u.approval.req
	u.approval.answering = true
	u.async(func(ctx context.Context) error {
		return u.auth.Deny(ctx, r, reason)
	}, func(err error) {
		u.approval.answering = false
		switch {
		case errors.Is(err, ErrOffline):
			u.online = false
			u.replace(u.offlineScreen())
		case err != nil:
			u.showError(err)
		case reason == DenyFraud:
			u.finishApproval(true, T("Denied and reported"), T("The login was blocked. Change your password in the Client Portal."))
		default:
			u.finishApproval(true, T("Denied"), T("The login was cancelled."))
		}
	})
}

// finishApproval forgets the request and shows the outcome.
func (u *UI) finishApproval(ok bool, title, text string) {
	u.dropRequest(u.approval.req.Key())
	u.approval.ok, u.approval.title, u.approval.text = ok, title, text
	u.stack = u.stack[:u.approval.depth]
	u.push(u.approveResultScreen())
}

func (u *UI) dropRequest(k RequestKey) {
	u.requests = slices.DeleteFunc(u.requests, func(r LoginRequest) bool { return r.Key() == k })
}

// approveResultScreen says how it went.
func (u *UI) approveResultScreen() screen {
	return screen{id: "approve-result", title: T("Login request"), build: func() fyne.CanvasObject {
		icon := theme.ConfirmIcon()
		switch {
		case u.approval.gone:
			icon = theme.InfoIcon()
		case !u.approval.ok:
			icon = theme.ErrorIcon()
		}
		return container.NewVBox(
			container.NewCenter(container.NewGridWrap(fyne.NewSize(64, 64), widget.NewIcon(icon))),
			title(u.approval.title),
			para(u.approval.text),
			u.primary("done", T("Done"), u.closeApproval),
		)
	}}
}

func (u *UI) closeApproval() {
	u.stack = u.stack[:u.approval.depth]
	if len(u.stack) == 0 {
		u.stack = []screen{u.homeScreen()}
	}
	u.render()
	if len(u.requests) > 0 {
		u.showNextRequest()
	}
}

// offlineScreen: the phone cannot answer; log in with a challenge instead.
func (u *UI) offlineScreen() screen {
	return screen{id: "approve-offline", title: T("Login request"), build: func() fyne.CanvasObject {
		r := u.approval.req
		return container.NewVBox(
			container.NewCenter(container.NewGridWrap(fyne.NewSize(64, 64), widget.NewIcon(theme.WarningIcon()))),
			heading(T("You are offline")),
			para(T("This phone cannot reach the service, so it cannot approve the login.")),
			para(T("In the browser choose to log in with a challenge, then generate the response here: it works without a connection.")),
			u.primary("fallback-generate", T(u.words.Generate), func() {
				u.dropRequest(r.Key())
				u.stack = u.stack[:u.approval.depth]
				u.startGenerate(u.requestUser(r))
			}),
			u.button("retry", T("Try again"), theme.ViewRefreshIcon(), func() { u.replace(u.approveScreen()) }),
		)
	}}
}

// eventsHandled is how many events from Watch were handled (tests).
func (u *UI) eventsHandled() int {
	u.eventsMu.Lock()
	defer u.eventsMu.Unlock()
	return u.events
}
