package app

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// loginScreen is where the app opens and where auto-lock returns: Services
// at the top left, then Log In to the users.
func (u *UI) loginScreen() screen {
	return screen{id: "login", title: "IB Key", build: func() fyne.CanvasObject {
		logo := canvas.NewImageFromImage(logoImage())
		logo.FillMode = canvas.ImageFillContain
		logo.SetMinSize(fyne.NewSize(96, 96))
		return container.NewVBox(
			layoutSpacer(24),
			logo,
			widget.NewLabelWithStyle("IB Key", fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
			para(T("Your second factor for logging in. Log in to see the users on this device, or open Services to authenticate.")),
			u.primary("login", T("Log In"), func() { u.reset(u.homeScreen()) }),
		)
	}}
}

// servicesScreen is the login screen's Services menu.
func (u *UI) servicesScreen() screen {
	return screen{id: "services", title: T("Services"), build: func() fyne.CanvasObject {
		return container.NewVBox(
			u.button("authenticate", T("Authenticate"), theme.ConfirmIcon(), func() { u.push(u.twoFactorScreen("authenticate", T("Authenticate"))) }),
			u.button("settings", T("Settings"), theme.SettingsIcon(), func() { u.push(u.settingsScreen()) }),
		)
	}}
}

// twoFactorScreen offers Add User and Generate Code / Response; it is
// Services > Authenticate and More > Two-Factor Authentication.
func (u *UI) twoFactorScreen(id, title string) screen {
	return screen{id: id, title: title, build: func() fyne.CanvasObject {
		items := []fyne.CanvasObject{
			u.button("add-user", T("Add User"), theme.ContentAddIcon(), func() { u.startEnroll() }),
			u.button("generate", T(u.words.Generate), theme.ViewRefreshIcon(), func() { u.startGenerate("") }),
		}
		if len(u.requests) > 0 {
			items = append(items, u.button("review", T("Review login requests"), theme.WarningIcon(), u.showNextRequest))
		}
		return container.NewVBox(items...)
	}}
}

// homeScreen lists the users on this device with their quick actions.
func (u *UI) homeScreen() screen {
	return screen{id: "home", title: T("IB Key"), tab: "home", build: func() fyne.CanvasObject {
		box := container.NewVBox()
		if !u.online {
			box.Add(u.offlineBanner())
		}
		if n := len(u.requests); n > 0 {
			box.Add(widget.NewCard(T("Login request waiting"), "", container.NewVBox(
				para(T("Someone is logging in as {{.User}}. Is it you?", map[string]any{"User": u.requestUser(u.requests[0])})),
				u.primary("review", T("Review"), u.showNextRequest))))
		}
		users, err := u.auth.Users()
		if err != nil {
			box.Add(para(explain(err)))
		}
		if len(users) == 0 && err == nil {
			box.Add(heading(T("No users on this device yet")))
			box.Add(para(T("Add yourself with the username and password of your account.")))
			box.Add(u.primary("add-user", T("Add User"), func() { u.startEnroll() }))
			return box
		}
		for _, us := range users {
			box.Add(u.userCard(us))
		}
		return box
	}}
}

// userCard is one user on the home screen with its quick action.
func (u *UI) userCard(us User) fyne.CanvasObject {
	name := us.Name
	var action *widget.Button
	if us.Gate == GateCard {
		action = u.button("dsc:"+name, T("DSC+ card"), theme.GridIcon(), func() { u.startDSC(name) })
	} else {
		action = u.button("gen:"+name, T(u.words.Generate), theme.ViewRefreshIcon(), func() { u.startGenerate(name) })
	}
	action.Importance = widget.HighImportance
	details := value(us.Account + " · " + u.gateText(us.Gate))
	return widget.NewCard(short(name), "", container.NewVBox(details, u.activeLabel(us), action))
}

func (u *UI) activeLabel(us User) fyne.CanvasObject {
	if us.Active {
		return container.NewBorder(nil, nil, widget.NewIcon(theme.ConfirmIcon()), nil, para(T("Active on this device")))
	}
	return container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, para(T("Not active: another device is this user's IB Key")))
}

// gateText names a gate in the flavor's words.
func (u *UI) gateText(g Gate) string {
	bio := bioName(u.opts.Bio)
	if bio == "" {
		bio = T("biometrics")
	}
	secret := T(u.words.Secret)
	switch g {
	case GatePIN:
		return secret
	case GateBiometric:
		return bio
	case GatePINBiometric:
		return T("{{.Secret}} or {{.Bio}}", map[string]any{"Secret": secret, "Bio": bio})
	case GateCard:
		return T("DSC+ card")
	}
	return string(g)
}

// offlineBanner says the phone is offline and how to log in anyway.
func (u *UI) offlineBanner() fyne.CanvasObject {
	return widget.NewCard(T("You are offline"), "",
		container.NewVBox(
			para(T("Login requests cannot reach this phone.")),
			para(T("In the browser choose to log in with a challenge, then generate the response here: it works without a connection.")),
			u.button("fallback-generate", T(u.words.Generate), theme.ViewRefreshIcon(), func() { u.startGenerate("") }),
		))
}

// moreScreen: Two-Factor Authentication, Users, DSC+, Settings, Log Out.
func (u *UI) moreScreen() screen {
	return screen{id: "more", title: T("More"), tab: "more", build: func() fyne.CanvasObject {
		return container.NewVBox(
			u.button("2fa", T("Two-Factor Authentication"), theme.ConfirmIcon(), func() { u.push(u.twoFactorScreen("2fa", T("Two-Factor Authentication"))) }),
			u.button("users", T("Users"), theme.AccountIcon(), func() { u.push(u.usersScreen()) }),
			u.button("dsc", T("DSC+ card"), theme.GridIcon(), func() { u.startDSC("") }),
			u.button("settings", T("Settings"), theme.SettingsIcon(), func() { u.push(u.settingsScreen()) }),
			u.button("logout", T("Log Out"), theme.LogoutIcon(), u.lock),
		)
	}}
}

// lock returns to the login screen.
func (u *UI) lock() { u.reset(u.loginScreen()) }

func layoutSpacer(h float32) fyne.CanvasObject {
	r := canvas.NewRectangle(color.Transparent)
	r.SetMinSize(fyne.NewSize(1, h))
	return r
}
