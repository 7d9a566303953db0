package data

import "context"

// Setting returns a deployment setting, or ErrNotFound.
func (db *DB) Setting(ctx context.Context, name string) (string, error) {
	var v string
	err := db.scanRow(ctx, `SELECT value FROM settings WHERE name = ?`, []any{name}, &v)
	return v, err
}

// SetSetting stores a deployment setting.
func (db *DB) SetSetting(ctx context.Context, name, value string) error {
	_, err := db.exec(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
	return err
}
