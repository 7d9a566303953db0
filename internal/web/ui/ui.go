// Package ui holds ConnectBook's templates and static files.
package ui

import "embed"

// Files holds templates/ and static/.
//
//go:embed templates static
var Files embed.FS
