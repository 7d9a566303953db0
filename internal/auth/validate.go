package auth

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// InputError is a problem with what a person typed, with a message they
// can act on. Field names the form field.
type InputError struct {
	Field   string
	Message string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// Limits. Passwords are counted in Unicode characters (code points) of
// their NFC form; MaxPasswordBytes bounds what is typed before anything
// else is done with it, so that a huge paste costs next to nothing.
const (
	MinPassword      = 8
	MaxPassword      = 256
	MaxPasswordBytes = 4096
	MaxDisplayName   = 50
	MaxBio           = 300
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

// IsCommonPassword reports whether pw is on the list of common passwords
// or close to one: in any case, with look-alike characters swapped in
// (P@ssw0rd), with digits or symbols around it (password123!), or
// backwards; or whether it is a repeat, a run or a date.
func IsCommonPassword(pw string) bool {
	return commonness(NormalizePassword(pw)) != notCommon
}

// The reasons a new password is refused.
const (
	msgCommonListed  = "That password is on the list of the most common passwords, so it is among the first that attackers try. Please choose another."
	msgCommonVariant = "That password is one of the most common passwords with small changes (letters swapped for look-alike digits or symbols, digits or symbols added, or spelled backwards), so it is among the first that attackers try. Please choose another."
	msgPattern       = "That password is a simple pattern (a character or a few repeated, a run such as abcdefgh or 87654321, or a date), so it is among the first that attackers try. Please choose another."
	msgUsername      = "Your password contains your username, and without it what is left is too short or too easy to guess. Please choose another."
	msgSiteName      = "Your password contains the name ConnectBook, and without it what is left is too short or too easy to guess. Please choose another."
)

// CheckNewPassword checks a password being chosen: 8 to 256 characters
// after NFC normalisation, no composition rules, not a common password or
// one close to it, not built from the username or the site's name. The
// confirmation must be the same password, however it was composed.
func CheckNewPassword(pw, confirm, username string) error {
	if len(pw) > MaxPasswordBytes {
		return &InputError{"password", fmt.Sprintf("Use at most %d characters.", MaxPassword)}
	}
	if !utf8.ValidString(pw) {
		return &InputError{"password", "The password contains characters that are not valid text."}
	}
	nfc := NormalizePassword(pw)
	switch n := utf8.RuneCountInString(nfc); {
	case n == 0:
		return &InputError{"password", fmt.Sprintf("Choose a password of at least %d characters.", MinPassword)}
	case n < MinPassword:
		return &InputError{"password", fmt.Sprintf("Use at least %d characters (you typed %d).", MinPassword, n)}
	case n > MaxPassword:
		return &InputError{"password", fmt.Sprintf("Use at most %d characters (you typed %d).", MaxPassword, n)}
	}
	if found, site := builtFrom(nfc, username); found {
		if site {
			return &InputError{"password", msgSiteName}
		}
		return &InputError{"password", msgUsername}
	}
	switch commonness(nfc) {
	case listed:
		return &InputError{"password", msgCommonListed}
	case variant:
		return &InputError{"password", msgCommonVariant}
	case pattern:
		return &InputError{"password", msgPattern}
	}
	if len(confirm) > MaxPasswordBytes || NormalizePassword(confirm) != nfc {
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
		return "", &InputError{"display_name", "The display name contains control or invisible characters (such as right-to-left overrides or zero-width spaces), which could make it read as something else. Please remove them."}
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
		return "", &InputError{"bio", "The bio contains control or invisible characters (such as right-to-left overrides or zero-width spaces), which could make it read as something else. Please remove them."}
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
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || Invisible(r) {
			return true
		}
	}
	return false
}
