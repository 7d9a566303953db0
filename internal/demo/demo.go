// Package demo fills a database with a small made-up network — a few dozen
// people with clearly fake names, their posts over the last weeks, who
// follows whom, a private account and a request to follow — so that a
// newcomer sees a living ConnectBook at once, and one account to sign in
// with.
package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/connectbook/connectbook/internal/account"
	"github.com/connectbook/connectbook/internal/data"
)

// Username is the demo account's.
const Username = "demo"

// ErrFilled means the database holds the demo data already.
var ErrFilled = errors.New("the demo data is already in this database (there is a user called demo)")

// Login is the demo account's credentials.
type Login struct{ Username, Password string }

// people are the made-up members: "Example", "Sample" and the like mark
// every name as fake.
var people = []struct{ username, name, bio string }{
	{"ada_example", "Ada Example", "Writes compilers for fun. Tea over coffee."},
	{"bo_sample", "Bo Sample", "Cyclist, baker, occasional poet."},
	{"cleo_testwell", "Cleo Testwell", "Birdwatcher. 214 species and counting."},
	{"dev_demoson", "Dev Demoson", "Backend by day, synths by night."},
	{"eli_placeholder", "Eli Placeholder", "Gardener of tomatoes and opinions."},
	{"fay_mockley", "Fay Mockley", "Photographer. Mostly fog and harbours."},
	{"gus_fixture", "Gus Fixture", "Teaches maths to teenagers, patiently."},
	{"hana_stubbs", "Hana Stubbs", "Runs a tiny bookshop. Ask me for a recommendation."},
	{"ivo_sampleton", "Ivo Sampleton", "Trail runner. Slow but stubborn."},
	{"june_dummy", "June Dummy", "Knits, codes, repeats."},
	{"kai_example", "Kai Example", "Amateur astronomer under city lights."},
	{"lena_mockup", "Lena Mockup", "Designer who loves a good grid."},
	{"milo_testcase", "Milo Testcase", "Home cook. The oven is my lab."},
	{"nia_demo", "Nia Demo", "Nurse, night shifts, strong coffee."},
	{"otto_fakename", "Otto Fakename", "Retired engineer, full-time tinkerer."},
	{"pia_sample", "Pia Sample", "Learning the cello at forty. Send earplugs."},
	{"quin_example", "Quin Example", "Chess, puzzles, long walks."},
	{"rosa_mockwell", "Rosa Mockwell", "Urban sketcher."},
	{"sam_dummyfield", "Sam Dummyfield", "Volunteer firefighter and dad."},
	{"tara_testing", "Tara Testing", "Security engineer. I read the logs so you don't have to."},
	{"uma_placeholder", "Uma Placeholder", "Beekeeper with three hives."},
	{"vic_stubworth", "Vic Stubworth", "Board games every Friday."},
	{"wren_example", "Wren Example", "Poet. Short lines, long walks."},
	{"xavi_sample", "Xavi Sample", "Football on Sundays, rain or shine."},
	{"yara_demo", "Yara Demo", "Marine biologist. Ask me about octopuses."},
	{"zed_fixture", "Zed Fixture", "Carpenter. Measure twice."},
	{"ana_lorem", "Ana Lorem", "Translator between four languages."},
	{"ben_ipsum", "Ben Ipsum", "Jazz pianist, mostly in the kitchen."},
	{"cai_dolor", "Cai Dolor", "Climber. Bouldering on weekdays."},
	{"dora_amet", "Dora Amet", "Librarian. Quiet, please."},
	{"ezra_mockery", "Ezra Mockery", "Film buff with strong opinions on sequels."},
	{"flo_example", "Flo Example", "Private account: my posts are for friends."},
}

// privateUser is the made-up member whose account is private, and who has
// asked to follow the demo account.
const privateUser = "flo_example"

var posts = []string{
	"Good morning! The first coffee of the day is the best one.",
	"Finished a 10 km run in the rain. Worth it.",
	"Trying a new sourdough recipe. Wish me luck.",
	"Anyone else watching the meteor shower tonight?",
	"Just planted three kinds of basil. The balcony smells amazing.",
	"Reading a wonderful book about the history of maps. Highly recommended.",
	"Fixed the squeaky door after only two years. Progress.",
	"The light over the harbour this evening was unreal.",
	"New blog post on keeping passwords safe: https://example.com/passwords",
	"Lunch break walk. Spotted a heron by the canal.",
	"Board game night was a success. I lost every game, gracefully.",
	"Learning a new song on the cello. My neighbours are very patient.",
	"The bees are busy today. So am I.",
	"Tip: a password manager and a long passphrase beat any clever rule.",
	"Made soup for the whole street. Leftovers for a week.",
	"Sketched the old town hall this morning.\nThe pigeons were uncooperative models.",
	"Weekend plan: absolutely nothing. Can't wait.",
	"Our team shipped the new release today. Time for cake.",
	"Octopuses have three hearts. Just thought you should know.",
	"The library's new reading room opens next week.",
	"Climbed my first V4 today!",
	"Rain again. Perfect excuse for a long book.",
	"Translating a poem is like carrying water in your hands.",
	"Jazz and pancakes: the ideal Sunday.",
	"Just saw the best film of the year. No spoilers.",
	"Measured twice, cut once, still wrong. Carpentry is humbling.",
	"The sunset from the hill tonight: orange, pink, then gone.",
	"Volunteered at the food bank this morning. Come along next time!",
	"Started a vegetable patch with the kids.",
	"If you found a blue scarf at the station, it's mine.",
}

// Fill creates the demo network in db and returns the demo account's
// login. now is the present: posts and follows are dated in the weeks
// before it.
func Fill(ctx context.Context, db *data.DB, acc *account.Service, now time.Time) (Login, error) {
	if _, err := db.UserByUsername(ctx, Username); err == nil {
		return Login{}, ErrFilled
	} else if !errors.Is(err, data.ErrNotFound) {
		return Login{}, err
	}
	login := Login{Username: Username, Password: passphrase()}
	me, err := acc.AddUser(ctx, login.Username, login.Password, login.Password)
	if err != nil {
		return Login{}, fmt.Errorf("creating the demo account: %w", err)
	}
	if err := db.UpdateProfile(ctx, me.ID, "Demo Person", "The demo account: look around, post, follow people. Nothing here is real.", now); err != nil {
		return Login{}, err
	}
	ids := map[string]int64{}
	var all []int64
	for _, p := range people {
		// Nobody signs in as these: each gets a long random password
		// that is not kept.
		pw := passphrase()
		u, err := acc.AddUser(ctx, p.username, pw, pw)
		if err != nil {
			return Login{}, fmt.Errorf("creating %s: %w", p.username, err)
		}
		if err := db.UpdateProfile(ctx, u.ID, p.name, p.bio, now); err != nil {
			return Login{}, err
		}
		ids[p.username] = u.ID
		all = append(all, u.ID)
	}
	if err := db.SetPrivate(ctx, ids[privateUser], true, now); err != nil {
		return Login{}, err
	}
	start := now.Add(-21 * 24 * time.Hour)

	// Who follows whom, three weeks ago: everyone follows a handful of
	// others; the demo account follows a dozen and is followed by ten.
	for i, id := range all {
		for k := 1; k <= 6; k++ {
			other := all[(i*7+k*5)%len(all)]
			if other != id && other != ids[privateUser] {
				if _, err := db.Follow(ctx, id, other, start.Add(time.Duration(i*k)*time.Minute)); err != nil {
					return Login{}, err
				}
			}
		}
	}
	for i, id := range all[:12] {
		if _, err := db.Follow(ctx, me.ID, id, start.Add(time.Duration(i)*time.Hour)); err != nil {
			return Login{}, err
		}
	}
	for i, id := range all[8:18] {
		if _, err := db.Follow(ctx, id, me.ID, start.Add(time.Duration(i)*time.Hour+time.Minute)); err != nil {
			return Login{}, err
		}
	}
	// Posts, oldest first so that IDs follow time: about five a day
	// across the network, some mentioning the demo account.
	const total = 120
	step := now.Sub(start) / total
	for i := range total {
		author := all[(i*11)%len(all)]
		if author == ids[privateUser] && i%2 == 0 {
			author = all[(i*11+1)%len(all)]
		}
		body := posts[(i*7)%len(posts)]
		var mentioned []int64
		if i%17 == 5 {
			body = "@demo " + body
			mentioned = []int64{me.ID}
		}
		if _, err := db.CreatePost(ctx, author, body, mentioned, start.Add(time.Duration(i)*step)); err != nil {
			return Login{}, err
		}
	}
	if _, err := db.CreatePost(ctx, me.ID, "Hello, ConnectBook! This is the demo account's first post.", nil, now.Add(-time.Hour)); err != nil {
		return Login{}, err
	}
	if _, err := db.RequestFollow(ctx, ids[privateUser], me.ID, now.Add(-30*time.Minute)); err != nil {
		return Login{}, err
	}
	return login, nil
}

// passphrase makes a password of five random words' worth of letters and
// digits: about 100 bits.
func passphrase() string {
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	var b strings.Builder
	for i := range 20 {
		if i > 0 && i%5 == 0 {
			b.WriteByte('-')
		}
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(letters))))
		if err != nil {
			panic(err) // crypto/rand does not fail
		}
		b.WriteByte(letters[n.Int64()])
	}
	return b.String()
}
