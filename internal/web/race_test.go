//go:build race

package web_test

// The race detector slows everything several times over.
const raceEnabled = true
