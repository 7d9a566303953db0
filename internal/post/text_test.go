package post

import (
	"slices"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "hello"},
		{"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
		{"see https://example.com/a?b=1&c=2.", `see <a href="https://example.com/a?b=1&amp;c=2" rel="nofollow noopener noreferrer ugc">example.com/a?b=1&amp;c=2</a>.`},
		{"(https://example.com/x)", `(<a href="https://example.com/x" rel="nofollow noopener noreferrer ugc">example.com/x</a>)`},
		{"https://en.wikipedia.org/wiki/Go_(language)", `<a href="https://en.wikipedia.org/wiki/Go_(language)" rel="nofollow noopener noreferrer ugc">en.wikipedia.org/wiki/Go_(language)</a>`},
		{`https://x.example/"onmouseover="alert(1)`, `<a href="https://x.example/" rel="nofollow noopener noreferrer ugc">x.example/</a>&#34;onmouseover=&#34;alert(1)`},
		{"javascript:alert(1)", "javascript:alert(1)"},
		{"JAVASCRIPT://%0aalert(1)", "JAVASCRIPT://%0aalert(1)"},
		{"data:text/html,<b>x</b>", "data:text/html,&lt;b&gt;x&lt;/b&gt;"},
		{"http://user:pw@evil.example/", "http://user:pw@evil.example/"},
		{"hi @Alice_1!", `hi <a class="mention" href="/u/alice_1">@Alice_1</a>!`},
		{"mail bob@example.com", "mail bob@example.com"},
		{"@ab is too short, @" + strings.Repeat("a", 31) + " too long", "@ab is too short, @" + strings.Repeat("a", 31) + " too long"},
		{"@<b>x</b>", "@&lt;b&gt;x&lt;/b&gt;"},
		{"line one\nline two", "line one\nline two"},
		{"café @zoë_x", "café @zoë_x"},
	} {
		if got := string(Render(tc.in)); got != tc.want {
			t.Errorf("Render(%q)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestMentions(t *testing.T) {
	got := Mentions("@Bob and @bob, @carol_9. Not a@dave or @ed or email@x.com; (@frank)")
	if want := []string{"bob", "carol_9", "frank"}; !slices.Equal(got, want) {
		t.Errorf("Mentions = %v, want %v", got, want)
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"  hello\r\nworld  ", "hello\nworld", true},
		{"a\n\n\n\n\nb", "a\n\nb", true},
		{"tab\there", "tab here", true},
		{strings.Repeat("é", 500), strings.Repeat("é", 500), true},
		{strings.Repeat("é", 501), "", false},
		{"", "", false},
		{"   \n ", "", false},
		{"nul\x00byte", "", false},
		{"bad \xff utf-8", "", false},
		{"rtl \u202e override", "", false},
		{"zero\u200bwidth", "", false},
		{"family 👨\u200d👩\u200d👧", "family 👨\u200d👩\u200d👧", true},
	} {
		got, err := Check(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Check(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
