package protocol

// MaxUsername is the longest username, in bytes.
const MaxUsername = 64

// CanonicalUsername returns the one form of a username that the service
// keys, compares and limits by: 1 to 64 ASCII letters, digits or ._@+-,
// with the letters in lower case. "Alice" and "alice" are one user. ok is
// false when u is not a username at all.
func CanonicalUsername(u string) (canon string, ok bool) {
	if len(u) == 0 || len(u) > MaxUsername {
		return "", false
	}
	b := []byte(u)
	for i, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '@', c == '+', c == '-':
		default:
			return "", false
		}
	}
	return string(b), true
}
