package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/connectbook/connectbook/internal/testdb"
)

// é as one code point, and as e with a combining acute accent.
const (
	composed   = "\u00e9"
	decomposed = "e\u0301"
)

// emoji returns n emoji (4 bytes each) that repeat no short unit.
func emoji(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteRune(rune(0x1F400 + (i*7+i/64)%64))
	}
	return b.String()
}

func TestCheckNewPassword(t *testing.T) {
	for _, tc := range []struct {
		name, pw, user, field, msg string
	}{
		{"passphrase", "vermilion otter canoe", "alice", "", ""},
		{"strong_random", "kT9#vq2Lw!xR4zpE", "alice", "", ""},
		{"too_short", "ab", "alice", "password", "Use at least 8 characters (you typed 2)."},
		{"empty", "", "alice", "password", "Choose a password of at least 8 characters."},
		{"three_characters_nine_bytes", "€€€", "alice", "password", "Use at least 8 characters (you typed 3)."},
		{"seven_decomposed_is_seven", strings.Repeat(decomposed, 7), "alice", "password", "Use at least 8 characters (you typed 7)."},
		{"eight_accented", "\u00e9t\u00e9 \u00e0 l\u00e0", "alice", "", ""},
		{"eight_accented_decomposed", "e\u0301te\u0301 a\u0300 la\u0300", "alice", "", ""},
		{"eight_é_repeated", strings.Repeat(composed, 8), "alice", "password", msgPattern},
		{"eight_é_decomposed_repeated", strings.Repeat(decomposed, 8), "alice", "password", msgPattern},
		{"64_characters", strings.Repeat("kT9#vq2L", 8), "alice", "", ""},
		{"256_characters_1024_bytes", emoji(256), "alice", "", ""},
		{"257_characters", emoji(256) + "x", "alice", "password", "Use at most 256 characters (you typed 257)."},
		{"huge_paste", strings.Repeat("x", 1<<20), "alice", "password", "Use at most 256 characters."},
		{"invalid_utf8", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", "alice", "password", ""},
		{"listed", "password", "alice", "password", msgCommonListed},
		{"listed_any_case", "BaseBall", "alice", "password", msgCommonListed},
		{"password123", "password123", "alice", "password", msgCommonListed},
		{"P@ssw0rd", "P@ssw0rd", "alice", "password", msgCommonListed}, // itself on the list
		{"P@$$w0rD", "P@$$w0rD", "alice", "password", msgCommonVariant},
		{"Password1!", "Password1!", "alice", "password", msgCommonVariant},
		{"digits_around", "2024sunshine!!", "alice", "password", msgCommonVariant},
		{"substitutions_and_digits", "$upErm4n1987", "alice", "password", msgCommonVariant},
		{"backwards", "enihsnus", "alice", "password", msgCommonVariant},
		{"repeat", "aaaaaaaaaa", "alice", "password", msgPattern},
		{"repeated_year", "19871987", "alice", "password", msgPattern},
		{"run", "abcdefghij", "alice", "password", msgPattern},
		{"run_down", "zyxwvuts", "alice", "password", msgPattern},
		{"date", "25.12.1999", "alice", "password", msgPattern},
		{"username", "alice_smith", "alice_smith", "password", msgUsername},
		{"username_digits_around", "2024alice!!!", "alice", "password", msgUsername},
		{"username_with_digits", "alice83920174", "alice", "password", msgUsername},
		{"username_substituted", "@l1c3@l1c3", "alice", "password", msgUsername},
		{"username_backwards", "ecila_ecila", "alice", "password", msgUsername},
		{"username_part", "Smith2024!", "alice_smith", "password", msgUsername},
		{"username_and_common", "alicesunshine", "alice", "password", msgUsername},
		{"site", "connectbook2024", "alice", "password", msgSiteName},
		{"site_substituted", "C0nn3ctB00k!", "alice", "password", msgSiteName},
		{"site_backwards", "koobtcennoc", "alice", "password", msgSiteName},
		{"username_in_passphrase", "alice walks the vermilion otter", "alice", "", ""},
		{"short_username_in_passphrase", "bob walks the vermilion otter", "bob", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNewPassword(tc.pw, tc.pw, tc.user)
			var ie *InputError
			switch {
			case tc.field == "" && err != nil:
				t.Errorf("CheckNewPassword(%.40q) = %v, want nil", tc.pw, err)
			case tc.field != "" && (!errors.As(err, &ie) || ie.Field != tc.field):
				t.Errorf("CheckNewPassword(%.40q) = %v, want a problem with %s", tc.pw, err, tc.field)
			case tc.msg != "" && ie.Message != tc.msg:
				t.Errorf("CheckNewPassword(%.40q): got %q, want %q", tc.pw, ie.Message, tc.msg)
			}
		})
	}
}

func TestCheckNewPasswordConfirm(t *testing.T) {
	for _, tc := range []struct {
		pw, confirm string
		ok          bool
	}{
		{"correct horse", "correct horse", true},
		{"correct horse", "correct horsE", false},
		{"caf" + composed + " au lait", "caf" + decomposed + " au lait", true},
		{"correct horse", strings.Repeat("x", 1<<20), false},
	} {
		err := CheckNewPassword(tc.pw, tc.confirm, "alice")
		var ie *InputError
		if tc.ok && err != nil || !tc.ok && (!errors.As(err, &ie) || ie.Field != "password_confirm") {
			t.Errorf("CheckNewPassword(%q, %.20q) = %v, want ok %v", tc.pw, tc.confirm, err, tc.ok)
		}
	}
}

// The list holds at least 10,000 passwords that meet the length policy, and
// every one of them is refused.
func TestCommonPasswordList(t *testing.T) {
	var long []string
	for p := range strings.Lines(commonPasswordsText) {
		if p = strings.TrimSuffix(p, "\n"); utf8.RuneCountInString(p) >= MinPassword {
			long = append(long, p)
		}
	}
	if len(long) < 10000 {
		t.Fatalf("%d common passwords of %d characters or more, want at least 10,000", len(long), MinPassword)
	}
	for _, p := range long {
		if !IsCommonPassword(p) || !IsCommonPassword(strings.ToUpper(p)) {
			t.Fatalf("%q is on the list but not refused", p)
		}
	}
	if !strings.Contains(CommonPasswordsLicence, "Permission is hereby granted") {
		t.Fatal("the list's licence is not built in")
	}
}

// Found at sign-in however the keyboard composes it: new hashes are of the
// NFC form, and hashes made before, of the bytes as typed, still match and
// are replaced at the next sign-in.
func TestPasswordNormalizationAtSignIn(t *testing.T) {
	nfc := "caf" + composed + " cr" + composed + "me br" + composed + "l" + composed + "e"
	nfd := "caf" + decomposed + " cr" + decomposed + "me br" + decomposed + "l" + decomposed + "e"
	for _, be := range testdb.Backends {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			h := NewHasherLimits(cheap, 2, 8, time.Second)
			s, _ := newService(t, be.DSN(t), h)
			for _, signup := range []string{nfc, nfd} {
				user := map[string]string{nfc: "composed", nfd: "decomposed"}[signup]
				if _, err := s.SignUp(ctx, user, signup, signup); err != nil {
					t.Fatal(err)
				}
				for _, typed := range []string{nfc, nfd} {
					if err := login(s, user, typed, "198.51.100.1"); err != nil {
						t.Errorf("signed up %s, typed %q: %v", user, typed, err)
					}
				}
			}

			// A hash of the decomposed bytes, as made before passwords were
			// normalised.
			if _, err := s.DB.CreateUser(ctx, "legacy", "legacy", hashPHC(nfd, cheap), s.Now()); err != nil {
				t.Fatal(err)
			}
			if err := login(s, "legacy", "cafe creme brulee", "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("a wrong password against an old hash: %v", err)
			}
			before := h.Computed()
			if err := login(s, "legacy", nfd, "198.51.100.1"); err != nil {
				t.Fatalf("the old hash, typed as before: %v", err)
			}
			if n := h.Computed() - before; n != 3 {
				t.Errorf("%d hashes computed, want 3: the NFC form, the bytes as typed, the new hash", n)
			}
			if err := login(s, "legacy", nfc, "198.51.100.1"); err != nil {
				t.Fatalf("after the hash was replaced, typed composed: %v", err)
			}
			c, err := s.DB.CredentialsByUsername(ctx, "legacy")
			if err != nil {
				t.Fatal(err)
			}
			if ok, _ := h.Verify(ctx, c.PasswordHash, nfc); !ok {
				t.Fatal("the old hash was not replaced by one of the NFC form")
			}
		})
	}
}

// An unknown user costs what a wrong password costs, typed the same way.
func TestUnknownUserSameWorkDecomposed(t *testing.T) {
	h := NewHasherLimits(cheap, 2, 8, time.Second)
	s, _ := newService(t, testdb.SQLite(t), h)
	typed := "caf" + decomposed + " au lait"
	var cost [2]int64
	for i, user := range []string{"alice", "nobody"} {
		before := h.Computed()
		if err := login(s, user, typed, "198.51.100.1"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("%s: %v", user, err)
		}
		cost[i] = h.Computed() - before
	}
	if cost[0] != cost[1] || cost[0] != 2 {
		t.Fatalf("hashes computed: %d for a wrong password, %d for an unknown user; want 2 each", cost[0], cost[1])
	}
}

func BenchmarkCheckNewPassword(b *testing.B) {
	commonPasswords()
	for b.Loop() {
		CheckNewPassword("vermilion otter canoe", "vermilion otter canoe", "alice")
	}
}
