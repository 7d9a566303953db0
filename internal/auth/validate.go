package auth

import (
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ccojocar/zxcvbn-go/frequency"
)

// InputError is a problem with what a person typed, with a message they
// can act on. Field names the form field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// Limits.
const (
	MinPassword    = 8
	MaxPassword    = 256
	MaxDisplayName = 50
	MaxBio         = 300
)

var usernameRE = regexp.MustCompile(`^[A-Za-z0-9_]{3,30}$`)

// NormalizeUsername lowercases a username and checks it: 3 to 30 of
// a–z, 0–9 and _. Usernames are unique regardless of case because they are
// stored lowercase.
func NormalizeUsername(s string) (string, error) {
	// Checked before lowercasing: strings.ToLower folds some non-ASCII
	// letters (the Kelvin sign, dotted İ) into ASCII ones.
	if !usernameRE.MatchString(s) {
		return "", &InputError{"username", "Usernames are 3 to 30 characters: letters a–z, digits and underscores."}
	}
	return strings.ToLower(s), nil
}

// commonPasswords is zxcvbn's list of the most used passwords.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	list := frequency.Lists["Passwords"].List
	set := make(map[string]struct{}, len(list))
	for _, p := range list {
		set[p] = struct{}{}
	}
	return set
})

// IsCommonPassword reports whether pw (ignoring case) is on the list of
// common passwords.
func IsCommonPassword(pw string) bool {
	_, ok := commonPasswords()[strings.ToLower(pw)]
	return ok
}

// CheckNewPassword checks a password being chosen: 8 to 256 bytes exactly
// as typed, no composition rules, not a common password, not the username.
func CheckNewPassword(pw, confirm, username string) error {
	switch {
	case len(pw) < MinPassword:
		return &InputError{"password", "Choose a password of at least 8 characters."}
	case len(pw) > MaxPassword:
		return &InputError{"password", "Choose a password of at most 256 characters."}
	case !utf8.ValidString(pw):
		return &InputError{"password", "The password contains characters that are not valid text."}
	case IsCommonPassword(pw):
		return &InputError{"password", "That password is one of the most common ones, so it is easy to guess. Please choose another."}
	case strings.EqualFold(pw, username):
		return &InputError{"password", "Your password cannot be your username."}
	case pw != confirm:
		return &InputError{"password_confirm", "The two passwords do not match."}
	}
	return nil
}

// CheckDisplayName trims and checks a display name.
func CheckDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s) || hasControl(s, false):
		return "", &InputError{"display_name", "The display name contains characters that cannot be shown."}
	case n == 0:
		return "", &InputError{"display_name", "Enter a display name."}
	case n > MaxDisplayName:
		return "", &InputError{"display_name", "Display names are at most 50 characters."}
	}
	return s, nil
}

// CheckBio trims and checks a bio: up to 300 characters, line breaks
// allowed.
func CheckBio(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch {
	case !utf8.ValidString(s) || hasControl(s, true):
		return "", &InputError{"bio", "The bio contains characters that cannot be shown."}
	case utf8.RuneCountInString(s) > MaxBio:
		return "", &InputError{"bio", "Bios are at most 300 characters."}
	}
	return s, nil
}

func hasControl(s string, allowNewline bool) bool {
	for _, r := range s {
		if r == '\n' && allowNewline {
			continue
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return true
		}
	}
	return false
}
