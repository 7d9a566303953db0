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
