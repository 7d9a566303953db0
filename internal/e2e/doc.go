// Package e2e holds ConnectBook's end-to-end tests: a real headless
// Chromium, driven over the DevTools protocol, signs up, signs in from a
// second browser and works through the account security center of the app
// that internal/app builds, served over HTTPS. The tests assert what a
// person sees (addresses and visible text) and take screenshots at phone
// and desktop widths. They skip, saying what is missing, where no Chromium
// is installed.
//
// The package has no code outside its tests.
package e2e
