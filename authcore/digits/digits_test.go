package digits

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStrip(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"123456", "123456"},
		{"123 456", "123456"},
		{"1234-5678", "12345678"},
		{" 1234\t5678 ", "12345678"},
		{"123\u00a0456", "123456"},       // a no-break space copied from a page
		{"12\u2009345\u202f6", "123456"}, // thin spaces
		{"12a 456", "12a456"},            // letters stay, for the caller to refuse
		{"", ""},
		{"- -", ""},
	} {
		if got := Strip(c.in); got != c.want {
			t.Errorf("Strip(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOnly(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"0", true},
		{"9", true},
		{"0123456789", true},
		{"/", false}, // '0'-1
		{":", false}, // '9'+1
		{"12345678", true},
		{"", false},
		{"123 456", false},
		{"12a", false},
		{"١٢٣", false}, // Arabic-Indic digits are not ASCII digits
		{"１２３", false}, // nor are fullwidth ones
	} {
		if got := Only(c.in); got != c.want {
			t.Errorf("Only(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestGroup(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"123456", 3, "123 456"},
		{"12345678", 4, "1234 5678"},
		{"12345678", 3, "123 456 78"},
		{"123 45", 3, "123 45"},
		{"1-2-3-4-5-6", 3, "123 456"},
		{"123", 3, "123"},
		{"12", 3, "12"},
		{"", 3, ""},
		{"1234", 0, "1234"},
		{"123", 1, "1 2 3"},
		{"1234", -1, "1234"},
		{"12a456", 3, "12a 456"},
	} {
		if got := Group(c.in, c.n); got != c.want {
			t.Errorf("Group(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

// FuzzDigits checks that grouping and stripping round-trip: the groups
// of Group are Strip's text again, Group is idempotent, groups have n
// characters except the last, and Strip leaves no separator.
func FuzzDigits(f *testing.F) {
	for _, s := range []string{"123456", "1234 5678", "12-34", "a b", "", "١٢٣ 4", "\u00a0"} {
		f.Add(s, 3)
		f.Add(s, 4)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		if !utf8.ValidString(s) {
			return
		}
		n = n%12 + 1
		if n < 1 {
			n += 12
		}
		st := Strip(s)
		if strings.IndexFunc(st, IsSeparator) >= 0 {
			t.Fatalf("Strip(%q) = %q keeps a separator", s, st)
		}
		if Strip(st) != st {
			t.Fatalf("Strip is not idempotent on %q", s)
		}
		g := Group(s, n)
		if Strip(g) != st {
			t.Fatalf("Strip(Group(%q, %d)) = %q, want %q", s, n, Strip(g), st)
		}
		if Group(g, n) != g {
			t.Fatalf("Group(Group(%q, %d)) = %q, want %q", s, n, Group(g, n), g)
		}
		parts := strings.Split(g, " ")
		for i, p := range parts {
			if c := utf8.RuneCountInString(p); (i < len(parts)-1 && c != n) || c > n {
				t.Fatalf("Group(%q, %d) = %q: group %q has %d characters", s, n, g, p, c)
			}
		}
		if Only(st) != (st != "" && strings.Trim(st, "0123456789") == "") {
			t.Fatalf("Only(%q) = %v", st, Only(st))
		}
	})
}
