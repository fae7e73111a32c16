// Command ibkey is the command line of the ibkey authenticator: OCRA, HOTP
// and TOTP arithmetic, the users of a device vault, challenge/response and
// seamless approval, the soft DSC+ card, and the IB Key service.
//
// See README.md for its commands; results go to stdout, one per line, and
// failures to stderr as one line starting with "ibkey: ".
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], newEnv(os.Stdin, os.Stdout, os.Stderr)))
}
