package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/auth"
)

// world is the generated network, users numbered from 0 (ID 1).
type world struct {
	users     []user
	authors   []int32 // per post, in ID order: its author
	postAt    []int64 // per post: created_at, increasing
	postCount []int
	follows   [][]int32 // per user: followees, increasing
	followAt  [][]int64
	mutes     []int32 // muted by the known user
	busy      int     // the user with the most posts
	seed      uint64
}

type user struct {
	username, display, bio, hash string
	created                      int64
	private                      bool
	weight                       float64 // activity
}

const (
	activitySigma  = 1.5  // log-normal spread of how much people post
	followByWeight = 0.70 // share of follows drawn by activity
	privateShare   = 0.03
	day            = int64(24 * time.Hour / time.Microsecond)
)

func generate(ctx context.Context, c config, now time.Time) (*world, error) {
	rng := rand.New(rand.NewPCG(c.seed, 0x5eed))
	w := &world{seed: c.seed}
	nowMicro := now.UnixMicro()
	postsFrom := nowMicro - 365*day
	usersFrom := postsFrom - 365*day

	// The known user's hash from the project's hasher; everyone else
	// shares the hash of a random password.
	hasher := auth.NewHasher(auth.DefaultParams)
	known, err := hasher.Hash(ctx, auth.NormalizePassword(c.password))
	if err != nil {
		return nil, err
	}
	other, err := hasher.Hash(ctx, fmt.Sprintf("%x%x", rand.Uint64(), rand.Uint64()))
	if err != nil {
		return nil, err
	}
	knownName, err := auth.NormalizeUsername(c.user)
	if err != nil {
		return nil, fmt.Errorf("-user: %w", err)
	}

	// Users, joined in ID order over the year before the first post.
	w.users = make([]user, c.users)
	taken := map[string]bool{knownName: true}
	for i := range w.users {
		u := &w.users[i]
		u.created = usersFrom + int64(i)*(postsFrom-usersFrom)/int64(c.users)
		u.weight = math.Exp(activitySigma * rng.NormFloat64())
		u.hash = other
		first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
		u.display = first + " " + last
		if i == 0 {
			u.username, u.display, u.hash, u.weight = knownName, "Bench User", known, 1 // a median poster
		} else {
			u.username = fmt.Sprintf("%s_%s%d", strings.ToLower(first), strings.ToLower(last), i)
			if len(u.username) > 30 || taken[u.username] {
				u.username = fmt.Sprintf("user_%d", i)
			}
		}
		taken[u.username] = true
		if rng.IntN(3) > 0 {
			u.bio = bios[rng.IntN(len(bios))]
		}
	}
	byWeight := newAlias(w.users)

	// Posts: authors by activity, times spread evenly over the year with
	// jitter, increasing with the ID.
	w.authors = make([]int32, c.posts)
	w.postAt = make([]int64, c.posts)
	w.postCount = make([]int, c.users)
	span := float64(nowMicro - postsFrom)
	prev := postsFrom
	for i := range w.authors {
		a := byWeight.draw(rng)
		w.authors[i] = int32(a)
		w.postCount[a]++
		at := postsFrom + int64(span*(float64(i)+rng.Float64())/float64(c.posts))
		at = max(at, prev+1)
		w.postAt[i], prev = at, at
	}
	for i, n := range w.postCount {
		if n > w.postCount[w.busy] {
			w.busy = i
		}
	}
	for i := range w.users {
		w.users[i].private = i != 0 && i != w.busy && rng.Float64() < privateShare
	}

	// Follows: 50 to 150 each (the known user exactly c.follows).
	w.follows = make([][]int32, c.users)
	w.followAt = make([][]int64, c.users)
	seen := make([]int, c.users) // seen[j] == i+1: i follows j already
	for i := range w.users {
		k := c.follows
		if i != 0 {
			k = c.follows/2 + rng.IntN(c.follows+1)
		}
		k = min(k, c.users-1)
		list := make([]int32, 0, k)
		for len(list) < k {
			var j int
			if rng.Float64() < followByWeight {
				j = byWeight.draw(rng)
			} else {
				j = rng.IntN(c.users)
			}
			if j == i || seen[j] == i+1 {
				continue
			}
			seen[j] = i + 1
			list = append(list, int32(j))
		}
		slices.Sort(list)
		at := make([]int64, len(list))
		for n, j := range list {
			from := max(w.users[i].created, w.users[j].created)
			at[n] = from + rng.Int64N(nowMicro-from)
		}
		w.follows[i], w.followAt[i] = list, at
	}
	// The known user mutes two of the people they follow (not the busiest).
	for _, j := range w.follows[0] {
		if len(w.mutes) < 2 && int(j) != w.busy {
			w.mutes = append(w.mutes, j)
		}
	}
	return w, nil
}

func (w *world) followCount() int {
	n := 0
	for _, f := range w.follows {
		n += len(f)
	}
	return n
}

func (w *world) followers(j int) int {
	n := 0
	for _, f := range w.follows {
		if _, ok := slices.BinarySearch(f, int32(j)); ok {
			n++
		}
	}
	return n
}

// feedPosts counts the posts in user i's home feed.
func (w *world) feedPosts(i int) int {
	n := w.postCount[i]
	for _, j := range w.follows[i] {
		if i != 0 || !slices.Contains(w.mutes, j) {
			n += w.postCount[j]
		}
	}
	return n
}

func (w *world) medianPosts() int {
	c := slices.Clone(w.postCount)
	slices.Sort(c)
	return c[len(c)/2]
}

// alias draws users in proportion to their activity weight (Vose's alias
// method).
type alias struct {
	prob  []float64
	other []int
}

func newAlias(users []user) *alias {
	n := len(users)
	a := &alias{prob: make([]float64, n), other: make([]int, n)}
	total := 0.0
	for _, u := range users {
		total += u.weight
	}
	scaled := make([]float64, n)
	var small, large []int
	for i, u := range users {
		scaled[i] = u.weight * float64(n) / total
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s], a.other[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		a.prob[i], a.other[i] = 1, i
	}
	return a
}

func (a *alias) draw(rng *rand.Rand) int {
	i := rng.IntN(len(a.prob))
	if rng.Float64() < a.prob[i] {
		return i
	}
	return a.other[i]
}

// body writes a post of filler text: mostly short, some long, some with
// line breaks, a link or an @mention.
func (w *world) body(rng *rand.Rand) string {
	var n int
	switch r := rng.Float64(); {
	case r < 0.70:
		n = 20 + rng.IntN(120)
	case r < 0.95:
		n = 140 + rng.IntN(160)
	default:
		n = 300 + rng.IntN(140)
	}
	var b strings.Builder
	chars := 0
	add := func(s string) {
		if b.Len() > 0 {
			if rng.IntN(25) == 0 {
				b.WriteString("\n")
			} else {
				b.WriteByte(' ')
			}
			chars++
		}
		b.WriteString(s)
		chars += len([]rune(s))
	}
	if rng.IntN(12) == 0 {
		add("@" + w.users[rng.IntN(len(w.users))].username)
	}
	for chars < n {
		add(words[rng.IntN(len(words))])
	}
	if rng.IntN(10) == 0 {
		add(fmt.Sprintf("https://example.com/%s/%d", words[rng.IntN(len(words))], rng.IntN(100000)))
	}
	return b.String()
}

var firstNames = strings.Fields(`Ada Alan Grace Linus Barbara Dennis Ken Margaret Edsger Donald Frances
	John Radia Niklaus Tony Leslie Shafi Whitfield Martin Hedy Katherine Dorothy Mary Ivan Sophie Jean
	Emmy Carl Ada Lise Rosalind Marie Pierre Nikola Alonzo Kurt Emil Stephen Annie Evelyn Joan Karen
	Hal Butler Guido Bjarne Yukihiro Rob Robert Ward Anita Elena Mateo Amara Kenji Priya Lars Ingrid
	Tomás Zofia Aiyana Dmitri Noor Chidi Ines Oskar Freya Rafael Mei Kofi Astrid Juno Pilar`)

var lastNames = strings.Fields(`Lovelace Turing Hopper Torvalds Liskov Ritchie Thompson Hamilton Dijkstra
	Knuth Allen Backus Perlman Wirth Hoare Lamport Goldwasser Diffie Hellman Lamarr Johnson Vaughan
	Jackson Sutherland Wilson Noether Gauss Meitner Franklin Curie Tesla Church Godel Post Cook Easley
	Jennings Clarke Sparck Abelson Lampson Rossum Stroustrup Matsumoto Pike Griesemer Cunningham Borg
	Example Fakename Sample Placeholder Testwood Mockley Demoson Stubbs Fixture Dummett`)

var bios = []string{
	"Fake person for the feed benchmark.",
	"Writes about gardens, trains and the weather.",
	"Coffee, code, and long walks. Not a real account.",
	"Generated by bench/feedgen. Opinions are random.",
	"Amateur astronomer 🔭 and part-time baker.",
	"Here for the cat pictures.",
}

var words = strings.Fields(`the a of and to in is it that for on with as was at by this be from or
	have an are not but had his they you were her she which their will one all would there what so if
	about who when make can like time just him know take people into year your good some could them see
	other than then now look only come its over think also back after use two how our work first well
	way even new want because any these give day most us morning coffee garden train weather city river
	bridge music book cat dog picture walk sunset rain snow code release bug fix test deploy lunch dinner
	friends weekend holiday café naïve über smörgåsbord 🙂 🎉 👍 ☕ really quite today tomorrow yesterday
	finally again still never always maybe great small big old young long short happy tired busy quiet`)
