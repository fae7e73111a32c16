package app

import (
	"context"
	"image/color"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// dscState is the soft DSC+ card: PIN>, then CHALLNG>, then the response.
type dscState struct {
	user     string
	stage    int // dscPIN, dscChallenge, dscResponse
	pin      string
	chal     string
	response string
	display  *canvas.Text
	prompt   *canvas.Text
}

const (
	dscPIN = iota
	dscChallenge
	dscResponse
)

// The card's colours: a dark blue card, a grey-green LCD.
var (
	cardBlue  = color.NRGBA{R: 0x14, G: 0x2a, B: 0x4a, A: 0xff}
	cardLCD   = color.NRGBA{R: 0xc4, G: 0xd2, B: 0xb0, A: 0xff}
	cardInk   = color.NRGBA{R: 0x10, G: 0x18, B: 0x10, A: 0xff}
	cardWhite = color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
)

// startDSC opens the card of the user called name, or lets the person
// choose a card.
func (u *UI) startDSC(name string) {
	users, err := u.auth.Users()
	if err != nil {
		u.showError(err)
		return
	}
	var cards []User
	for _, us := range users {
		if us.Gate == GateCard && (name == "" || us.Name == name) {
			cards = append(cards, us)
		}
	}
	open := func(us User) {
		u.dsc = dscState{user: us.Name}
		u.push(u.dscScreen())
	}
	switch len(cards) {
	case 0:
		u.push(screen{id: "dsc-none", title: T("DSC+ card"), build: func() fyne.CanvasObject {
			return container.NewVBox(heading(T("No DSC+ card on this device")),
				para(T("A soft DSC+ card is a user whose responses take the card's 4-digit PIN. Add one with the username and password of the account, and the security code sent to its phone.")),
				u.primary("add-card", T("Add a DSC+ card"), u.startEnrollCard))
		}})
	case 1:
		open(cards[0])
	default:
		u.push(u.chooseUserScreen("dsc-user", T("DSC+ card"), cards, open))
	}
}

// dscScreen draws the card: its name, the LCD and the keypad. The
// keyboard works the keypad too: digits, Enter for OK, Backspace for the
// last digit, Delete for ◄.
func (u *UI) dscScreen() screen {
	return screen{id: "dsc", title: T("DSC+ card"), onRune: func(r rune) {
		if r >= '0' && r <= '9' {
			u.dscKey(string(r))
		}
	}, onKey: func(k *fyne.KeyEvent) {
		switch k.Name {
		case fyne.KeyReturn, fyne.KeyEnter:
			u.dscKey("ok")
		case fyne.KeyBackspace:
			u.dscBackspace()
		case fyne.KeyDelete:
			u.dscKey("clr")
		}
	}, build: func() fyne.CanvasObject {
		d := &u.dsc
		d.prompt = canvas.NewText("", cardInk)
		d.prompt.TextStyle = fyne.TextStyle{Monospace: true}
		d.prompt.TextSize = 16
		d.display = canvas.NewText("", cardInk)
		d.display.TextStyle = fyne.TextStyle{Monospace: true}
		d.display.TextSize = 28
		d.display.Alignment = fyne.TextAlignTrailing
		u.dscRefresh()

		lcdBG := canvas.NewRectangle(cardLCD)
		lcdBG.CornerRadius = 6
		lcd := container.NewStack(lcdBG, container.NewPadded(container.NewVBox(d.prompt, d.display)))

		keys := container.NewGridWithColumns(3)
		for _, k := range []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "clr", "0", "ok"} {
			k := k
			label := k
			switch k {
			case "clr":
				label = "◄"
			case "ok":
				label = "OK"
			}
			b := u.button("key:"+k, label, nil, func() { u.dscKey(k) })
			if k == "ok" {
				b.Importance = widget.HighImportance
			}
			keys.Add(b)
		}
		brand := canvas.NewText("DSC+", cardWhite)
		brand.TextStyle = fyne.TextStyle{Bold: true}
		brand.TextSize = 22
		sub := canvas.NewText(T("Digital Security Card+"), cardWhite)
		sub.TextSize = 11
		owner := canvas.NewText(short(d.user), cardWhite)
		owner.TextSize = 12
		owner.Alignment = fyne.TextAlignTrailing
		cardBG := canvas.NewRectangle(cardBlue)
		cardBG.CornerRadius = 16
		card := container.NewStack(cardBG, container.New(layout.NewCustomPaddedLayout(16, 16, 16, 16),
			container.NewVBox(container.NewHBox(brand, layout.NewSpacer(), owner), sub, lcd, keys)))
		return container.NewVBox(
			card,
			caption(T("Enter the card's PIN, OK; then the challenge from the login page, OK. Type the response into the login page.")),
		)
	}}
}

// dscRefresh shows the stage on the LCD.
func (u *UI) dscRefresh() {
	d := &u.dsc
	switch d.stage {
	case dscPIN:
		d.prompt.Text = "PIN>"
		d.display.Text = strings.Repeat("*", len(d.pin))
	case dscChallenge:
		d.prompt.Text = "CHALLNG>"
		d.display.Text = group(d.chal, 3)
	case dscResponse:
		d.prompt.Text = T("RESPONSE")
		d.display.Text = group(d.response, 4)
	}
	d.prompt.Refresh()
	d.display.Refresh()
}

// dscBackspace takes back the last digit typed.
func (u *UI) dscBackspace() {
	d := &u.dsc
	switch {
	case d.stage == dscPIN && d.pin != "":
		d.pin = d.pin[:len(d.pin)-1]
	case d.stage == dscChallenge && d.chal != "":
		d.chal = d.chal[:len(d.chal)-1]
	default:
		return
	}
	u.dscRefresh()
}

// dscKey presses a key of the card.
func (u *UI) dscKey(k string) {
	d := &u.dsc
	switch {
	case k == "clr":
		switch d.stage {
		case dscPIN:
			d.pin = ""
		case dscChallenge:
			d.chal = ""
		default:
			*d = dscState{user: d.user, display: d.display, prompt: d.prompt}
		}
		u.setMessage("", false)
	case k == "ok":
		switch d.stage {
		case dscPIN:
			if len(d.pin) != 4 {
				u.setMessage(T("The card's PIN has 4 digits."), true)
				return
			}
			d.stage = dscChallenge
			u.setMessage("", false)
		case dscChallenge:
			if len(d.chal) != 6 {
				u.setMessage(T("The challenge has 6 digits."), true)
				return
			}
			user, pin, chal := d.user, d.pin, d.chal
			var resp string
			u.async(func(context.Context) (err error) {
				resp, err = u.auth.DSC(user, pin, chal)
				return err
			}, func(err error) {
				if err != nil {
					u.showError(err)
					return
				}
				d.response, d.stage, d.pin = resp, dscResponse, ""
				u.dscRefresh()
			})
			return
		}
	default:
		if _, err := strconv.Atoi(k); err != nil {
			return
		}
		switch d.stage {
		case dscPIN:
			if len(d.pin) < 4 {
				d.pin += k
			}
		case dscChallenge:
			if len(d.chal) < 6 {
				d.chal += k
			}
		}
	}
	u.dscRefresh()
}
