package app

import (
	"context"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// usersScreen lists the users on this device.
func (u *UI) usersScreen() screen {
	return screen{id: "users", title: T("Users"), build: func() fyne.CanvasObject {
		box := container.NewVBox()
		users, err := u.auth.Users()
		if err != nil {
			box.Add(para(explain(err)))
		}
		for _, us := range users {
			name := us.Name
			b := u.button("user:"+name, short(name)+"  ·  "+u.gateText(us.Gate), theme.AccountIcon(), func() {
				u.userName = name
				u.push(u.userScreen())
			})
			b.Alignment = widget.ButtonAlignLeading
			box.Add(b)
			box.Add(u.activeLabel(us))
		}
		if len(users) == 0 {
			box.Add(para(T("No users on this device yet")))
		}
		box.Add(widget.NewSeparator())
		box.Add(u.button("add-user", T("Add User"), theme.ContentAddIcon(), u.startEnroll))
		return box
	}}
}

// userNamed finds a user; ok is false when there is none.
func (u *UI) userNamed(name string) (User, bool) {
	users, _ := u.auth.Users()
	for _, us := range users {
		if us.Name == name {
			return us, true
		}
	}
	return User{}, false
}

// userScreen shows one user and what can be done with it.
func (u *UI) userScreen() screen {
	return screen{id: "user", title: T("User"), build: func() fyne.CanvasObject {
		us, ok := u.userNamed(u.userName)
		if !ok {
			return para(T("No such user."))
		}
		last := T("never")
		if !us.LastUsed.IsZero() {
			last = us.LastUsed.In(u.opts.Now().Location()).Format("2 Jan 2006 15:04")
		}
		service := us.Service
		if service == "" {
			service = T("default")
		}
		box := container.NewVBox(
			heading(us.Name),
			widget.NewForm(
				widget.NewFormItem(T("Account"), value(us.Account)),
				widget.NewFormItem(T("Service"), value(service)),
				widget.NewFormItem(T("Protection"), value(u.gateText(us.Gate))),
				widget.NewFormItem(T("Device"), value(us.Device)),
				widget.NewFormItem(T("Last used"), value(last)),
			),
			u.activeLabel(us),
			widget.NewSeparator(),
		)
		if us.Gate == GateCard {
			box.Add(u.button("open-dsc", T("DSC+ card"), theme.GridIcon(), func() { u.startDSC(us.Name) }))
		} else {
			box.Add(u.button("inbox", T("Inbox"), theme.MailComposeIcon(), func() { u.push(u.inboxUnlockScreen()) }))
		}
		if us.Gate.HasPIN() { // not a card: its PIN is an input, not a seal
			box.Add(u.button("change-pin", T("Change {{.Secret}}", map[string]any{"Secret": T(u.words.Secret)}), theme.SettingsIcon(), func() { u.push(u.changePINScreen()) }))
		}
		box.Add(u.button("rename", T("Rename"), theme.DocumentCreateIcon(), func() { u.push(u.renameScreen()) }))
		rm := u.button("remove", T("Remove from this device"), theme.DeleteIcon(), func() { u.push(u.removeScreen()) })
		rm.Importance = widget.DangerImportance
		box.Add(rm)
		return box
	}}
}

// renameScreen renames the user.
func (u *UI) renameScreen() screen {
	return screen{id: "rename", title: T("Rename"), build: func() fyne.CanvasObject {
		name := u.entry("name", T("Name"))
		name.SetText(u.userName)
		save := func() {
			if err := u.auth.Rename(u.userName, name.Text); err != nil {
				u.showError(err)
				return
			}
			u.userName = name.Text
			u.popTo("user")
			u.setMessage(T("Renamed."), false)
		}
		name.OnSubmitted = func(string) { save() }
		return container.NewVBox(
			heading(T("The name of this user on this device")),
			name,
			u.primary("save", T("Save"), save),
		)
	}}
}

// removeScreen confirms the removal.
func (u *UI) removeScreen() screen {
	return screen{id: "remove", title: T("Remove"), build: func() fyne.CanvasObject {
		name := u.userName
		us, _ := u.userNamed(name)
		rm := u.button("confirm-remove", T("Remove"), theme.DeleteIcon(), func() {
			u.async(func(ctx context.Context) error { return u.auth.Remove(ctx, name) }, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				u.dropRequestsOf(us.Device) // its login requests go with it
				u.popTo("users")
				u.setMessage(T("{{.User}} was removed from this device.", map[string]any{"User": name}), false)
			})
		})
		rm.Importance = widget.DangerImportance
		return container.NewVBox(
			heading(T("Remove {{.User}}?", map[string]any{"User": name})),
			para(T("This phone will no longer generate passcodes or approve logins for this user. To use it again, add the user again with the password and a security code.")),
			container.NewGridWithColumns(2, u.button("cancel", T("Cancel"), nil, u.back), rm),
		)
	}}
}

// changePINScreen changes the PIN (passcode): old, new, new again.
func (u *UI) changePINScreen() screen {
	return screen{id: "change-pin", title: T("Change {{.Secret}}", map[string]any{"Secret": T(u.words.Secret)}), build: func() fyne.CanvasObject {
		secret := T(u.words.Secret)
		old := u.password("old-pin", T("Current {{.Secret}}", map[string]any{"Secret": secret}))
		pin := u.password("new-pin", T("New {{.Secret}}", map[string]any{"Secret": secret}))
		pin2 := u.password("new-pin2", T("New {{.Secret}} again", map[string]any{"Secret": secret}))
		name := u.userName
		save := func() {
			if pin.Text != pin2.Text {
				u.setMessage(T("The two entries differ. Type the same {{.Secret}} twice.", map[string]any{"Secret": secret}), true)
				return
			}
			o, n := old.Text, pin.Text
			u.async(func(ctx context.Context) error { return u.auth.ChangePIN(ctx, name, o, n) }, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				u.popTo("user")
				u.setMessage(T("Saved."), false)
			})
		}
		return container.NewVBox(
			para(T("When the phone is online, the service checks the current one first.")),
			old, pin, pin2,
			u.primary("save", T("Save"), save),
		)
	}}
}

// inboxUnlockScreen opens the inbox after the PIN or biometric check.
func (u *UI) inboxUnlockScreen() screen {
	return screen{id: "inbox", title: T("Inbox"), build: func() fyne.CanvasObject {
		us, _ := u.userNamed(u.userName)
		box := container.NewVBox(
			heading(T("Messages for {{.User}}", map[string]any{"User": us.Name})),
			para(T("Temporary passwords from Client Services are sealed to this phone. Unlock to read them; each is shown once.")),
		)
		if us.Gate.HasBiometric() && bioName(u.opts.Bio) != "" {
			box.Add(u.primary("open-bio", T("Open with {{.Bio}}", map[string]any{"Bio": bioName(u.opts.Bio)}), func() {
				u.openInbox(Unlock{Biometric: true, Reason: T("Open the inbox of {{.User}}", map[string]any{"User": us.Name})})
			}))
		}
		if us.Gate.HasPIN() {
			pin := u.password("pin", T("Enter your {{.Secret}}", map[string]any{"Secret": T(u.words.Secret)}))
			box.Add(pin)
			box.Add(u.primary("open", T("Open"), func() { u.openInbox(Unlock{PIN: pin.Text}) }))
		}
		return box
	}}
}

func (u *UI) openInbox(un Unlock) {
	name := u.userName
	var ds []Delivery
	u.async(func(ctx context.Context) (err error) {
		ds, err = u.auth.Inbox(ctx, name, un)
		return err
	}, func(err error) {
		if err != nil {
			u.showError(err)
			return
		}
		u.replace(u.inboxScreen(ds))
	})
}

// inboxScreen shows the deliveries, once.
func (u *UI) inboxScreen(ds []Delivery) screen {
	return screen{id: "inbox-open", title: T("Inbox"), build: func() fyne.CanvasObject {
		box := container.NewVBox()
		if len(ds) == 0 {
			box.Add(para(T("No messages.")))
			return box
		}
		box.Add(caption(T("Shown once: copy or write it down now.")))
		for i, d := range ds {
			d := d
			when := d.Created.In(u.opts.Now().Location()).Format("2 Jan 15:04")
			box.Add(widget.NewCard(T(d.Label), when, container.NewVBox(
				big(d.Text, 24),
				u.button("copy:"+strconv.Itoa(i), T("Copy"), theme.ContentCopyIcon(), func() {
					u.app.Clipboard().SetContent(d.Text)
					u.setMessage(T("Copied."), false)
				}),
			)))
		}
		return box
	}}
}
