package redisstore

import "testing"

func TestEvictionSafe(t *testing.T) {
	for _, tc := range []struct {
		policy string
		want   bool
	}{
		{"noeviction", true},
		{"allkeys-lru", false},
		{"allkeys-lfu", false},
		{"allkeys-random", false},
		{"volatile-lru", false},
		{"volatile-ttl", false},
		{"", false},
	} {
		if got := evictionSafe(tc.policy); got != tc.want {
			t.Errorf("evictionSafe(%q) = %v, want %v", tc.policy, got, tc.want)
		}
	}
}

func TestIPEncoding(t *testing.T) {
	for _, tc := range []struct {
		ip  string
		len int // of the stored form
	}{
		{"192.0.2.1", 5},
		{"255.255.255.255", 5},
		{"2001:db8:85a3:1f2e:8a2e:370:7334:abcd", 17},
		{"::", 17},
		{"::ffff:192.0.2.1", 17},
		{"", 0},
		{"unknown", 7},
		{"192.0.2.01", 10},  // not canonical: kept as text
		{"2001:DB8::1", 11}, // nor is upper case
		{"fe80::1%eth0", 12},
		{"\x04abcd", 6}, // text that starts like a stored address
		{"\x06", 2},
		{"\x00", 2},
		{"\x05", 1},
	} {
		enc := encodeIP(tc.ip)
		if len(enc) != tc.len {
			t.Errorf("encodeIP(%q) = %q, %d bytes; want %d", tc.ip, enc, len(enc), tc.len)
		}
		if got, err := decodeIP(enc); err != nil || got != tc.ip {
			t.Errorf("decodeIP(encodeIP(%q)) = %q, %v", tc.ip, got, err)
		}
	}
	for _, bad := range []string{"\x04abc", "\x04abcde", "\x06abc"} {
		if got, err := decodeIP(bad); err == nil {
			t.Errorf("decodeIP(%q) = %q, want an error", bad, got)
		}
	}
}
