package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"ibkey/authcore/ocra"
	"ibkey/authcore/vault"
	"ibkey/platform"
)

func init() {
	commands["users"] = command{
		"users list | add --service URL --username U [--channel sms|voice] [--name NAME] [--card] | add --link LINK | import --name NAME --suite SUITE --key HEX [--gate pin|biometric|pin+biometric] [--accept-weak-key] | remove NAME | passwd --user NAME",
		cmdUsers,
	}
	userCommands["add"] = usersAdd // enroll.go
	userCommands["list"] = cmdUsersList
	userCommands["import"] = cmdUsersImport
	userCommands["remove"] = cmdUsersRemove
}

// userCommands maps the subcommands of users to their functions; other
// files (enrollment) add theirs.
var userCommands = map[string]func(e *env, args []string) error{}

func cmdUsers(e *env, args []string) error {
	if len(args) == 0 {
		return usagef("users: which? %s", strings.Join(userCommandNames(), ", "))
	}
	c, ok := userCommands[args[0]]
	if !ok {
		return usagef("users: unknown subcommand %q (want %s)", args[0], strings.Join(userCommandNames(), ", "))
	}
	return c(e, args[1:])
}

func userCommandNames() []string {
	names := make([]string, 0, len(userCommands))
	for n := range userCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// secretsEnv chooses the SecretStore: auto (the OS keyring, else a file
// store beside the vault, said once on stderr), keyring or file. It is the
// variable that openDeviceVault (enroll.go) reads too.
const secretsEnv = "IBKEY_SECRET_STORE"

// openVault opens the vault of --vault (or IBKEY_VAULT, or the user's
// config folder) with the platform's SecretStore and Biometrics.
func (e *env) openVault() (*vault.Vault, error) {
	dir := e.vault
	if dir == "" {
		cfg, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("no --vault and no config folder: %w", err)
		}
		dir = filepath.Join(cfg, "ibkey")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("vault folder: %w", err)
	}
	kind := os.Getenv(secretsEnv)
	if kind == "" {
		kind = platform.StoreAuto
	}
	// The keyring's service names the vault, so that two vaults on one
	// machine keep their keys apart.
	store, err := platform.OpenSecretStoreKind(kind, "ibkey:"+abs, abs, e.stderr)
	if err != nil {
		return nil, err
	}
	return vault.Open(abs, notFoundStore{store}, platform.NewBiometrics())
}

// notFoundStore makes the platform's "not found" an fs.ErrNotExist, as
// the vault expects.
type notFoundStore struct{ platform.SecretStore }

func (s notFoundStore) Get(name string) ([]byte, error) {
	b, err := s.SecretStore.Get(name)
	if errors.Is(err, platform.ErrNotFound) && !errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (%w)", err, fs.ErrNotExist)
	}
	return b, err
}

func cmdUsersList(e *env, args []string) error {
	if err := parse(flags("users list"), args); err != nil {
		return err
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	users, err := v.List()
	if err != nil {
		return err
	}
	for _, u := range users {
		fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", u.Name, u.Account, u.Service, u.Gate)
	}
	return nil
}

// cmdUsersImport adds a token provisioned out of band. A suite with a PIN
// input (P) is a soft DSC+ card: its PIN is given at each use and checked by
// the service, so import asks for none and records the gate "card".
// Otherwise the PIN is read twice and seals the key.
func cmdUsersImport(e *env, args []string) error {
	fs := flags("users import")
	name := fs.String("name", "", "the user's display name")
	suiteText := fs.String("suite", "", "OCRA suite, such as OCRA-1:HOTP-SHA256-8:QN06")
	keyHex := fs.String("key", "", "the key, in hexadecimal")
	gate := fs.String("gate", string(vault.GatePIN), "pin, biometric or pin+biometric (a P suite is a card)")
	acceptWeak := fs.Bool("accept-weak-key", false, "import a key that does not look random (too short, printable, repetitive): a copy of the vault then reveals the PIN offline")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usagef("users import: --name is required")
	}
	if *suiteText == "" {
		return usagef("users import: --suite is required")
	}
	suite, err := ocra.ParseSuite(*suiteText)
	if err != nil {
		return err
	}
	key, err := parseKey(*keyHex)
	if err != nil {
		return err
	}
	if why := weakKey(key); why != "" && !*acceptWeak {
		return fmt.Errorf("users import: the key does not look random: %s; with such a key a copy of the vault reveals its PIN offline (docs/SECURITY.md): use 16 or more random bytes, or --accept-weak-key to take the risk", why)
	}
	u := vault.NewUser{Name: *name, Suite: suite, Secret: key}
	switch g := vault.Gate(*gate); {
	case suite.PIN() != 0:
		if g != vault.GatePIN {
			return fmt.Errorf("users import: suite %s has a PIN input: it is a card, --gate does not apply", suite)
		}
		u.Card = true
	case g == vault.GatePIN || g == vault.GateBiometric || g == vault.GatePINBiometric:
		u.Biometric = g.HasBiometric()
	default:
		return usagef("users import: --gate must be pin, biometric or pin+biometric")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	if _, err := v.User(*name); err == nil {
		return fmt.Errorf("users import: %w: %q", vault.ErrExists, *name)
	} else if !errors.Is(err, vault.ErrNoUser) {
		return err
	}
	if !u.Card && vault.Gate(*gate).HasPIN() {
		pin, err := e.readSecret("PIN: ")
		if err != nil {
			return err
		}
		if err := vault.CheckPIN(pin); err != nil {
			return err
		}
		again, err := e.readSecret("PIN again: ")
		if err != nil {
			return err
		}
		if again != pin {
			return errors.New("users import: the two PINs differ")
		}
		u.PIN = pin
	}
	return v.Add(u, rand.Reader, time.Now())
}

func cmdUsersRemove(e *env, args []string) error {
	fs := flags("users remove")
	if err := fs.Parse(args); err != nil {
		return usagef("users remove: %v", err)
	}
	if fs.NArg() != 1 {
		return usagef("users remove: give one NAME")
	}
	v, err := e.openVault()
	if err != nil {
		return err
	}
	return v.Remove(fs.Arg(0))
}
