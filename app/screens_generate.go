package app

import (
	"context"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// genState is the Generate Passcode flow under way.
type genState struct {
	user      User
	challenge string
	response  string
}

// startGenerate opens Generate Passcode for the user called name, or lets
// the person choose one when name is "" and there are several.
func (u *UI) startGenerate(name string) {
	u.gen = genState{}
	users, err := u.auth.Users()
	if err != nil {
		u.showError(err)
		return
	}
	var choice []User
	cards := 0
	for _, us := range users {
		if us.Gate == GateCard {
			cards++
			continue
		}
		if name == "" || us.Name == name {
			choice = append(choice, us)
		}
	}
	switch {
	case len(choice) == 0 && name == "" && cards > 0:
		// A DSC+ card answers the challenge on its keypad.
		u.startDSC("")
	case len(choice) == 0:
		u.push(u.noUsersScreen())
	case len(choice) == 1:
		u.gen.user = choice[0]
		u.push(u.generateScreen())
	default:
		u.push(u.chooseUserScreen("gen-user", T(u.words.Generate), choice, func(us User) {
			u.gen.user = us
			u.push(u.generateScreen())
		}))
	}
}

// noUsersScreen says there is nobody to generate for.
func (u *UI) noUsersScreen() screen {
	return screen{id: "no-users", title: T(u.words.Generate), build: func() fyne.CanvasObject {
		return container.NewVBox(
			heading(T("No users on this device yet")),
			para(T("Add yourself with the username and password of your account.")),
			u.primary("add-user", T("Add User"), u.startEnroll),
		)
	}}
}

// chooseUserScreen lists users to pick one.
func (u *UI) chooseUserScreen(id, title string, users []User, pick func(User)) screen {
	return screen{id: id, title: title, build: func() fyne.CanvasObject {
		box := container.NewVBox(heading(T("Choose the user")))
		for _, us := range users {
			us := us
			b := u.button("user:"+us.Name, short(us.Name)+"  ·  "+us.Account, theme.AccountIcon(), func() { pick(us) })
			b.Alignment = widget.ButtonAlignLeading
			box.Add(b)
		}
		return box
	}}
}

// generateScreen takes the challenge (and on Android the PIN).
func (u *UI) generateScreen() screen {
	return screen{id: "generate", title: T(u.words.Generate), build: func() fyne.CanvasObject {
		us := u.gen.user
		pinFirst := u.words.PINBeforeCode && us.Gate.HasPIN()
		box := container.NewVBox(
			heading(T("For {{.User}}", map[string]any{"User": us.Name})),
			para(T("Type the challenge shown on the login page.")),
		)
		var pin *widget.Entry
		if pinFirst {
			pin = u.password("pin", T("PIN"))
			box.Add(widget.NewForm(widget.NewFormItem(T("PIN"), pin)))
		}
		challenge := u.digits("challenge", "123 456", 6, 3, func(r rune) string {
			return T("The challenge has digits only: “{{.Char}}” is not one.", map[string]any{"Char": string(r)})
		}, T("The challenge has 6 digits."))
		challenge.TextStyle = fyne.TextStyle{Monospace: true}
		box.Add(widget.NewForm(widget.NewFormItem(T("Challenge"), challenge)))
		gen := func() {
			c := onlyDigits(challenge.Text)
			if len(c) != 6 {
				u.setMessage(T("The challenge has 6 digits."), true)
				return
			}
			u.gen.challenge = c
			switch {
			case pinFirst:
				if pin.Text == "" {
					u.setMessage(T("Enter your PIN."), true)
					return
				}
				u.respond(Unlock{PIN: pin.Text})
			case us.Gate.HasBiometric() && bioName(u.opts.Bio) != "":
				u.respond(Unlock{Biometric: true, Reason: T("Generate a passcode for {{.User}}", map[string]any{"User": us.Name})})
			default:
				u.push(u.unlockScreen("generate-unlock", T(u.words.Generate), u.respond))
			}
		}
		challenge.OnSubmitted = func(string) { gen() }
		box.Add(u.primary("generate-passcode", T("Generate Passcode"), gen))
		return box
	}}
}

// unlockScreen asks the PIN (passcode on iOS) and hands it to then.
func (u *UI) unlockScreen(id, title string, then func(Unlock)) screen {
	return screen{id: id, title: title, build: func() fyne.CanvasObject {
		secret := T(u.words.Secret)
		pin := u.password("pin", T("Enter your {{.Secret}}", map[string]any{"Secret": secret}))
		ok := func() {
			if pin.Text == "" {
				u.setMessage(T("Enter your {{.Secret}}", map[string]any{"Secret": secret}), true)
				return
			}
			then(Unlock{PIN: pin.Text})
		}
		pin.OnSubmitted = func(string) { ok() }
		return container.NewVBox(
			heading(T("Enter your {{.Secret}}", map[string]any{"Secret": secret})),
			pin,
			u.primary("unlock", T("Continue"), ok),
		)
	}}
}

// respond computes the response and shows it.
func (u *UI) respond(un Unlock) {
	user, challenge := u.gen.user.Name, u.gen.challenge
	var resp string
	u.async(func(context.Context) (err error) {
		resp, err = u.auth.Respond(user, challenge, un)
		return err
	}, func(err error) {
		if err != nil {
			u.showError(err)
			return
		}
		u.gen.response = resp
		u.stack = u.stack[:1]
		u.push(u.responseScreen())
	})
}

// responseScreen shows the response large and grouped, with Copy.
func (u *UI) responseScreen() screen {
	return screen{id: "response", title: T("Passcode"), build: func() fyne.CanvasObject {
		g := u.gen
		text := group(g.response, 4)
		return container.NewVBox(
			heading(T("Your passcode for {{.User}}", map[string]any{"User": g.user.Name})),
			caption(T("Challenge {{.Challenge}}", map[string]any{"Challenge": group(g.challenge, 3)})),
			layoutSpacer(12),
			big(text, 44),
			layoutSpacer(12),
			u.button("copy", T("Copy"), theme.ContentCopyIcon(), func() {
				u.app.Clipboard().SetContent(g.response)
				u.setMessage(T("Copied."), false)
			}),
			// The app works offline: it cannot know when the page showed
			// the challenge, so it names no time it could overstate.
			para(T("Type it into the login page now: it works while the page's challenge does, 3 minutes from when the page showed it.")),
			u.primary("done", T("Done"), func() { u.stack = u.stack[:1]; u.render() }),
		)
	}}
}
