package vault

import "ibkey/authcore/ocra"

// Secret is one user's opened OCRA secret. It is not safe for concurrent
// use. Close it when done.
type Secret struct {
	key   []byte
	suite ocra.Suite
	pin   string // a card's PIN: the P input
}

// Suite returns the user's suite.
func (s *Secret) Suite() ocra.Suite { return s.suite }

// Respond returns the response of the user's suite for in. For a card the
// PIN given at Unlock is the P input, unless in has one.
func (s *Secret) Respond(in ocra.Input) (string, error) {
	return s.RespondSuite(s.suite, in)
}

// RespondSuite returns the response of another suite (such as the
// service's approval suite) with the same secret.
func (s *Secret) RespondSuite(suite ocra.Suite, in ocra.Input) (string, error) {
	if s.key == nil {
		return "", ErrClosed
	}
	if suite.PIN() != 0 && in.PIN == "" && in.PINHash == nil {
		in.PIN = s.pin
	}
	return ocra.Generate(suite, s.key, in)
}

// Close zeroes the secret. Respond fails afterwards.
func (s *Secret) Close() {
	clear(s.key)
	s.key, s.pin = nil, ""
}
