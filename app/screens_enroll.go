package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	core "ibkey/authcore/device"
	"ibkey/authcore/vault"
)

// enrollState is the Add User flow under way.
type enrollState struct {
	e         Enrollment
	code      string
	askResend bool // "Didn't receive a security code?" was tapped
	// card is true when a DSC+ card is added; cardPIN is its PIN until
	// the code is sent with it.
	card    bool
	cardPIN string
	// act is the activation the service took (CheckCode), until it is
	// sealed or dropped.
	act       *Activation
	activated User
}

func (u *UI) startEnroll() {
	u.dropActivation()
	u.enroll = enrollState{}
	u.push(u.enrollIntroScreen())
}

// startEnrollCard opens Add User for a DSC+ card.
func (u *UI) startEnrollCard() {
	u.startEnroll()
	u.enroll.card = true
	u.push(u.enrollCredentialsScreen())
}

// enrollIntroScreen says what Add User needs.
func (u *UI) enrollIntroScreen() screen {
	return screen{id: "enroll-intro", title: T("Add User"), build: func() fyne.CanvasObject {
		card := u.button("add-card", T("DSC+ card"), theme.GridIcon(), func() {
			u.enroll.card = true
			u.push(u.enrollCredentialsScreen())
		})
		return container.NewVBox(
			heading(T("Add a user to this device")),
			para(T("You need the username and password of your account, and the phone whose number is on the account: a security code is sent to it by SMS, or by a voice call.")),
			para(T("Adding this device makes it the user's IB Key: a device added before stops working for that user.")),
			u.primary("continue", T("Continue"), func() {
				u.enroll.card = false
				u.push(u.enrollCredentialsScreen())
			}),
			u.button("use-link", T("I have a QR code link or Session ID"), nil, func() { u.push(u.enrollLinkScreen()) }),
			widget.NewSeparator(),
			card,
			caption(T("A soft Digital Security Card+ instead of IB Key: each response takes the card's 4-digit PIN, typed on its keypad.")),
		)
	}}
}

// enrollCredentialsScreen takes the username and password.
func (u *UI) enrollCredentialsScreen() screen {
	return screen{id: "enroll-credentials", title: T("Add User"), build: func() fyne.CanvasObject {
		user := u.entry("username", T("Username"))
		pass := u.password("password", T("Password"))
		next := func() {
			if user.Text == "" || pass.Text == "" {
				u.setMessage(T("Enter your username and password."), true)
				return
			}
			username, password := user.Text, pass.Text
			var e Enrollment
			u.async(func(ctx context.Context) (err error) {
				e, err = u.auth.StartEnrollment(ctx, "", username, password, SMS)
				return err
			}, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				pass.SetText("")
				u.enroll.e = e
				if u.enroll.card {
					u.push(u.enrollCardPINScreen())
					return
				}
				u.push(u.enrollCodeScreen())
			})
		}
		pass.OnSubmitted = func(string) { next() }
		return container.NewVBox(
			heading(T("Log in to your account")),
			widget.NewForm(widget.NewFormItem(T("Username"), user), widget.NewFormItem(T("Password"), pass)),
			u.primary("continue", T("Continue"), next),
		)
	}}
}

// enrollLinkScreen takes the portal's QR link or Session ID.
func (u *UI) enrollLinkScreen() screen {
	return screen{id: "enroll-link", title: T("Add User"), build: func() fyne.CanvasObject {
		link := u.entry("link", T("Link or Session ID"))
		next := func() {
			text := link.Text
			var e Enrollment
			u.async(func(ctx context.Context) (err error) {
				e, err = u.auth.EnrollWithLink(ctx, text)
				return err
			}, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				u.enroll.e = e
				if e.NeedsCode {
					u.push(u.enrollCodeScreen())
					return
				}
				u.checkCode() // the Session ID stands for the code
			})
		}
		link.OnSubmitted = func(string) { next() }
		return container.NewVBox(
			heading(T("Add from the Client Portal")),
			para(T("In the Client Portal, open IB Key > Add device. Open the QR code's link on this phone, or type the Session ID shown under it.")),
			link,
			u.primary("continue", T("Continue"), next),
		)
	}}
}

// enrollCodeScreen takes the activation code sent by SMS or voice.
func (u *UI) enrollCodeScreen() screen {
	return screen{id: "enroll-code", title: T("Security code"), build: func() fyne.CanvasObject {
		e := u.enroll.e
		sent := T("A security code was sent by SMS to {{.To}}.", map[string]any{"To": e.To})
		if e.Channel == Voice {
			sent = T("You will get a call at {{.To}} that reads a security code.", map[string]any{"To": e.To})
		}
		code := u.digits("code", T("Security code"), 8, 3, func(r rune) string {
			return T("The security code has digits only: “{{.Char}}” is not one.", map[string]any{"Char": string(r)})
		}, T("The security code has at most 8 digits."))
		code.SetText(u.enroll.code)
		next := func() {
			if len(onlyDigits(code.Text)) < 6 {
				u.setMessage(T("Enter the security code: at least 6 digits."), true)
				return
			}
			u.enroll.code = onlyDigits(code.Text)
			u.checkCode()
		}
		code.OnSubmitted = func(string) { next() }
		var action *widget.Button
		if u.flavor == Android {
			action = u.primary("send", T("Send"), next)
		} else {
			action = u.primary("activate", T("Activate"), next)
		}
		box := container.NewVBox(heading(T("Enter the security code")), para(sent), code, action)
		if !u.enroll.askResend {
			b := u.button("no-code", T("Didn't receive a security code?"), nil, func() {
				u.enroll.code = onlyDigits(code.Text)
				u.enroll.askResend = true
				u.replace(u.enrollCodeScreen())
			})
			b.Importance = widget.LowImportance
			box.Add(b)
		} else {
			box.Add(para(T("Get the code another way:")))
			box.Add(u.button("voice", T("Call me with the code (voice)"), theme.MediaPlayIcon(), func() { u.resend(Voice) }))
			box.Add(u.button("resend-sms", T("Send the SMS again"), theme.MailSendIcon(), func() { u.resend(SMS) }))
		}
		return box
	}}
}

func (u *UI) resend(ch Channel) {
	e := u.enroll.e
	u.async(func(ctx context.Context) (err error) {
		e, err = u.auth.Resend(ctx, e, ch)
		return err
	}, func(err error) {
		if errors.Is(err, ErrRateLimited) {
			u.setMessage(u.resendWait(u.enroll.e), true)
			return
		}
		if err != nil {
			u.showError(err)
			return
		}
		u.enroll.e = e
		u.enroll.askResend = false
		u.replace(u.enrollCodeScreen())
	})
}

// resendWait says when a refused resend may be asked again: at the
// enrollment's ResendAfter when that is to come, else later (a cap on the
// codes sent).
func (u *UI) resendWait(e Enrollment) string {
	now := u.opts.Now()
	if wait := e.ResendAfter.Sub(now); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		return T("Too soon for another code. You can ask again at {{.Time}}, in {{.Seconds}} seconds.", map[string]any{
			"Time": e.ResendAfter.In(now.Location()).Format("15:04:05"), "Seconds": secs})
	}
	return T("No more codes can be sent for now. Wait a few minutes and ask again, or use the code you have.")
}

// enrollCardPINScreen asks a new DSC+ card's PIN twice, before the code
// is sent: the card's PIN is an input of its key at the service, as a
// hardware card's PIN is set before the card is registered.
func (u *UI) enrollCardPINScreen() screen {
	return screen{id: "enroll-card-pin", title: T("DSC+ card"), build: func() fyne.CanvasObject {
		pin := u.password("pin", T("Card PIN"))
		pin2 := u.password("pin2", T("Card PIN again"))
		next := func() {
			if pin.Text != pin2.Text {
				u.setMessage(T("The two entries differ. Type the same {{.Secret}} twice.", map[string]any{"Secret": T("PIN")}), true)
				return
			}
			if err := core.CheckCardPIN(pin.Text); err != nil {
				u.setMessage(T("A card's PIN is 4 digits and must not be easy to guess."), true)
				return
			}
			u.enroll.cardPIN = pin.Text
			u.push(u.enrollCodeScreen())
		}
		pin2.OnSubmitted = func(string) { next() }
		return container.NewVBox(
			heading(T("Choose the card's PIN")),
			para(T("4 digits. You type it on the card's keypad for every response, and the service checks it. Nobody, not even IB, can recover it.")),
			pin, pin2,
			u.primary("continue", T("Continue"), next),
		)
	}}
}

// checkCode sends the code (or the Session ID) to the service, which
// checks it before any PIN is asked: a wrong or expired code is told on
// the screen that took it.
func (u *UI) checkCode() {
	e, code, cardPIN := u.enroll.e, u.enroll.code, u.enroll.cardPIN
	var act Activation
	u.async(func(ctx context.Context) (err error) {
		act, err = u.auth.CheckCode(ctx, e, code, cardPIN)
		return err
	}, func(err error) {
		if err != nil {
			u.showError(err)
			return
		}
		u.enroll.cardPIN = "" // given to the service
		u.enroll.act = &act
		if act.Replaces != nil {
			u.push(u.enrollReplaceScreen())
			return
		}
		u.protectStep(true)
	})
}

// dropActivation drops an activation taken by the service and not sealed:
// its key is cleared from memory.
func (u *UI) dropActivation() {
	if u.enroll.act != nil {
		u.auth.Cancel(*u.enroll.act)
		u.enroll.act = nil
	}
	u.enroll.cardPIN = ""
}

// abandonEnroll is Back from the first screen after the code was taken:
// the activation is dropped and Add User starts again.
func (u *UI) abandonEnroll() {
	u.dropActivation()
	u.enroll.code = ""
	u.popTo("enroll-intro")
	u.setMessage(T("Add User stopped before the end: nothing was added, and the user's IB Key is as it was."), false)
}

// enrollReplaceScreen warns that the account is on this device already.
func (u *UI) enrollReplaceScreen() screen {
	return screen{id: "enroll-replace", title: T("Add User"), onBack: u.abandonEnroll, build: func() fyne.CanvasObject {
		old := u.enroll.act.Replaces
		return container.NewVBox(
			container.NewCenter(container.NewGridWrap(fyne.NewSize(48, 48), widget.NewIcon(theme.WarningIcon()))),
			heading(T("{{.User}} is on this device already", map[string]any{"User": old.Name})),
			para(T("This account ({{.Account}}) is on this device as {{.User}}. Going on replaces it: the new entry becomes the account's IB Key and takes its name.", map[string]any{"Account": old.Account, "User": old.Name})),
			u.primary("replace", T("Replace it"), func() { u.protectStep(false) }),
			u.button("cancel", T("Cancel"), nil, u.abandonEnroll),
		)
	}}
}

// protectStep follows the code: a card is activated at once (its PIN is
// an input); iOS offers the biometric check or a passcode; Android (and
// iOS without biometrics) asks a PIN twice. first is true for the first
// screen after the code: Back from it drops the activation.
func (u *UI) protectStep(first bool) {
	var s screen
	switch {
	case u.enroll.act != nil && u.enroll.act.Card:
		u.activate(Protection{})
		return
	case u.flavor == IOS && bioName(u.opts.Bio) != "":
		s = u.enrollGateScreen()
	default:
		s = u.enrollPINScreen()
	}
	if first {
		s.onBack = u.abandonEnroll
	}
	u.push(s)
}

// enrollGateScreen (iOS) chooses Touch ID / Face ID or a passcode.
func (u *UI) enrollGateScreen() screen {
	return screen{id: "enroll-gate", title: T("Protect IB Key"), build: func() fyne.CanvasObject {
		bio := bioName(u.opts.Bio)
		return container.NewVBox(
			heading(T("How will you confirm logins?")),
			para(T("Each login you confirm on this phone will ask for it.")),
			u.primary("use-bio", T("Use {{.Bio}}", map[string]any{"Bio": bio}), func() { u.activate(Protection{Biometric: true}) }),
			u.button("use-passcode", T("Use a passcode"), nil, func() { u.push(u.enrollPINScreen()) }),
		)
	}}
}

// enrollPINScreen asks the new PIN (passcode on iOS) twice, then
// activates.
func (u *UI) enrollPINScreen() screen {
	return screen{id: "enroll-pin", title: T("Protect IB Key"), build: func() fyne.CanvasObject {
		secret := T(u.words.Secret)
		pin := u.password("pin", T("New {{.Secret}}", map[string]any{"Secret": secret}))
		pin2 := u.password("pin2", T("New {{.Secret}} again", map[string]any{"Secret": secret}))
		act := func() {
			if pin.Text != pin2.Text {
				u.setMessage(T("The two entries differ. Type the same {{.Secret}} twice.", map[string]any{"Secret": secret}), true)
				return
			}
			if err := vault.CheckPIN(pin.Text); err != nil {
				u.showError(fmt.Errorf("%w (%w)", ErrBadPIN, err))
				return
			}
			u.activate(Protection{PIN: pin.Text})
		}
		pin2.OnSubmitted = func(string) { act() }
		return container.NewVBox(
			heading(T("Create a {{.Secret}}", map[string]any{"Secret": secret})),
			para(T("4 to 6 characters. You will type it to generate responses and approve logins. Nobody, not even IB, can recover it.")),
			pin, pin2,
			u.primary("activate", T("Activate"), act),
		)
	}}
}

// activate seals the key the service agreed under the protection chosen,
// and confirms.
func (u *UI) activate(p Protection) {
	if u.enroll.act == nil {
		u.abandonEnroll()
		return
	}
	act := *u.enroll.act
	var us User
	u.async(func(ctx context.Context) (err error) {
		us, err = u.auth.Activate(ctx, act, p)
		return err
	}, func(err error) {
		switch {
		case errors.Is(err, ErrBadPIN), errors.Is(err, ErrCancelled), errors.Is(err, ErrExists):
			u.showError(err) // nothing was sent: try again
		case err != nil:
			// The activation is spent: start again.
			u.enroll.act = nil
			u.popTo("enroll-intro")
			u.showError(err)
		default:
			u.enroll.act = nil
			u.enroll.activated = us
			u.reset(u.enrollDoneScreen())
		}
	})
}

// popTo goes back to the screen id, if it is on the stack.
func (u *UI) popTo(id string) {
	for i := len(u.stack) - 1; i >= 0; i-- {
		if u.stack[i].id == id {
			u.stack = u.stack[:i+1]
			u.render()
			return
		}
	}
}

// enrollDoneScreen confirms the new user.
func (u *UI) enrollDoneScreen() screen {
	return screen{id: "enroll-done", title: T("Add User"), build: func() fyne.CanvasObject {
		us := u.enroll.activated
		icon := widget.NewIcon(theme.ConfirmIcon())
		text := T("This phone is now the IB Key of {{.User}} ({{.Account}}). Logins can be confirmed here.", map[string]any{"User": us.Name, "Account": us.Account})
		if us.Gate == GateCard {
			text = T("The DSC+ card of {{.User}} ({{.Account}}) is ready. Open it from the home screen to answer a login's challenge.", map[string]any{"User": us.Name, "Account": us.Account})
		}
		return container.NewVBox(
			container.NewCenter(container.NewGridWrap(fyne.NewSize(64, 64), icon)),
			title(T("{{.User}} is ready", map[string]any{"User": us.Name})),
			para(text),
			u.primary("done", T("Done"), func() { u.reset(u.homeScreen()) }),
		)
	}}
}
