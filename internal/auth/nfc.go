package auth

import "golang.org/x/text/unicode/norm"

// NormalizePassword returns the form of a password that is checked, counted
// and hashed: its Unicode NFC form. A keyboard may send é as one code point
// or as e and a combining accent; both are the same password.
func NormalizePassword(pw string) string { return norm.NFC.String(pw) }

// verifyTyped checks a password as typed against phc: first its NFC form,
// in which passwords are hashed; then, if what was typed differs, the typed
// text itself, in which passwords were hashed before they were normalised.
// legacy reports a match of the typed text only: the hash should be
// replaced by one of the NFC form.
func (s *Slot) verifyTyped(phc, typed string) (ok, legacy bool, err error) {
	nfc := NormalizePassword(typed)
	ok, err = s.Verify(phc, nfc)
	if ok || err != nil || nfc == typed {
		return ok, false, err
	}
	ok, err = s.Verify(phc, typed)
	return ok, ok, err
}

// verifyDummyTyped does the work of a verifyTyped that fails, so that an
// unknown user costs the same as a wrong password typed the same way.
func (s *Slot) verifyDummyTyped(typed string) {
	typed = typed[:min(len(typed), MaxPasswordBytes)]
	nfc := NormalizePassword(typed)
	s.VerifyDummy(nfc)
	if nfc != typed {
		s.VerifyDummy(typed)
	}
}
