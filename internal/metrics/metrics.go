// Package metrics counts what ConnectBook does, in Prometheus's format:
// requests by route and status, sessions begun and ended and why, sign-ins
// by outcome, throttling and flood rejections, session store calls, the
// password-hashing queue, and the Go runtime. Each App has its own
// registry, served by Handler on a listener of its own (serve's
// --metrics-addr); docs/operating.md lists every metric.
//
// Labels only take values from fixed sets (route patterns, status codes,
// reasons, store operations), never from what a client sends: a path, a
// username or a token never becomes a label, so a client can neither read
// anything back nor grow the number of series.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connectbook/connectbook/internal/auth"
	"github.com/connectbook/connectbook/session"
)

const namespace = "connectbook"

// Reasons a session ends, as the reason label of
// connectbook_sessions_ended_total.
const (
	EndSignedOut      = "signed_out"       // its user signed out
	EndReplaced       = "replaced"         // a new sign-in in the same browser replaced it
	EndIdle           = "idle_timeout"     // seen at a request past its idle deadline
	EndAbsolute       = "absolute_timeout" // seen at a request past its absolute deadline
	EndSwept          = "swept"            // removed by the sweeper, unseen since it expired
	EndRevoked        = "revoked"          // by its user from another session, or an administrator
	EndEvicted        = "evicted"          // least recently used, past the sessions-per-user limit
	EndClientChanged  = "client_changed"   // its cookie came from another browser or system
	EndTokenReused    = "token_reused"     // a retired token came back: the cookie was copied
	EndBindingMissing = "binding_missing"  // a device-bound session used without its device
)

var endReasons = []string{EndSignedOut, EndReplaced, EndIdle, EndAbsolute, EndSwept, EndRevoked,
	EndEvicted, EndClientChanged, EndTokenReused, EndBindingMissing}

// Labels are the values the labels taken from the app's own sets can
// have: each is reported from the start, at zero until it happens, so that
// a rate over it exists before the first one.
type Labels struct {
	SecurityEvents []string // the event label of connectbook_security_events_total
	ThrottleScopes []string // the scope label of connectbook_throttled_total
	LoginOutcomes  []string // the outcome label of connectbook_logins_total
}

// Metrics holds ConnectBook's metrics and their registry. A nil *Metrics
// counts nothing.
type Metrics struct {
	reg *prometheus.Registry

	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	inFlight      atomic.Int64 // read at each scrape
	created       prometheus.Counter
	ended         *prometheus.CounterVec
	rotated       prometheus.Counter
	logins        *prometheus.CounterVec
	throttled     *prometheus.CounterVec
	events        *prometheus.CounterVec
	suppressed    prometheus.Counter
	storeDuration *prometheus.HistogramVec
	storeErrors   *prometheus.CounterVec
	series        sync.Map // requestKey to *requestSeries
}

// storeBuckets suit calls that take from a tenth of a millisecond (a
// Redis or SQLite lookup) to the store timeout.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// requestBuckets suit pages answered in a millisecond and sign-ins that
// wait for the password-hashing queue.
var requestBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// New returns the metrics, registered with a registry of their own with
// the Go runtime's, the process's and the build's.
func New(l Labels) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "Requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time from a request's arrival to its answer, by route pattern and status code.",
		Buckets: requestBuckets,
	}, []string{"route", "code"})
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
		Help: "Requests being answered.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	m.created = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "sessions_created_total",
		Help: "Sessions created by a sign-in or a sign-up.",
	})
	m.ended = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sessions_ended_total",
		Help: "Sessions ended, by reason.",
	}, []string{"reason"})
	m.rotated = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "session_tokens_rotated_total",
		Help: "Session tokens replaced at a reauthentication or a changed password (the renewals of --rotation-interval are the session store's renew calls).",
	})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "logins_total",
		Help: "Sign-ins with a username and password, by outcome.",
	}, []string{"outcome"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "throttled_total",
		Help: "Attempts refused by a throttle, by the throttle's scope.",
	}, []string{"scope"})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "security_events_total",
		Help: "Security events, by kind, including those not recorded because of the per-client limit.",
	}, []string{"event"})
	m.suppressed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "security_events_suppressed_total",
		Help: "Security events an anonymous client caused past the per-client limit, counted but not recorded.",
	})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "session_store", Name: "call_duration_seconds",
		Help:    "Session store calls, by store and operation.",
		Buckets: storeBuckets,
	}, []string{"store", "op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "session_store", Name: "errors_total",
		Help: "Session store calls that failed (not counting a session that was not found), by store and operation.",
	}, []string{"store", "op"})

	m.reg.MustRegister(m.requests, m.duration, inFlight, m.created, m.ended, m.rotated, m.logins,
		m.throttled, m.events, m.suppressed, m.storeDuration, m.storeErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector())
	for _, r := range endReasons {
		m.ended.WithLabelValues(r)
	}
	for _, o := range l.LoginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, e := range l.SecurityEvents {
		m.events.WithLabelValues(e)
	}
	for _, s := range l.ThrottleScopes {
		m.throttled.WithLabelValues(s)
	}
	return m
}

// Value returns the value of the series of the metric called name with
// exactly these labels (name, value, name, value…), a histogram's count,
// and whether there is such a series: for tests and diagnostics.
func (m *Metrics) Value(name string, labels ...string) (float64, bool, error) {
	fams, err := m.reg.Gather()
	if err != nil {
		return 0, false, err
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != len(want) {
				continue
			}
			for _, l := range s.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			switch {
			case s.Counter != nil:
				return s.Counter.GetValue(), true, nil
			case s.Gauge != nil:
				return s.Gauge.GetValue(), true, nil
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount()), true, nil
			}
		}
	}
	return 0, false, nil
}

// Registry is where the metrics are registered, for more of them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// A failure to collect one metric still serves the others.
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
}

// RequestStarted and RequestDone bracket a request: route is its pattern
// ("" when none matched), status the one answered.
func (m *Metrics) RequestStarted() {
	if m != nil {
		m.inFlight.Add(1)
	}
}

// RequestDone counts an answered request; see RequestStarted.
func (m *Metrics) RequestDone(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Add(-1)
	key := requestKey{route, status}
	rs, ok := m.series.Load(key)
	if !ok {
		label := route
		if label == "" {
			label = "(none)"
		}
		code := strconv.Itoa(status)
		rs, _ = m.series.LoadOrStore(key, &requestSeries{m.requests.WithLabelValues(label, code), m.duration.WithLabelValues(label, code)})
	}
	s := rs.(*requestSeries)
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// requestKey and requestSeries keep each route and status's series at
// hand: looking them up by their labels costs more than counting.
type requestKey struct {
	route  string
	status int
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// SessionEvent counts what an event of the session manager did: a
// session created, ended (and why) or its token rotated.
func (m *Metrics) SessionEvent(ev session.Event) {
	if m == nil {
		return
	}
	switch ev.Kind {
	case session.EventCreated:
		m.created.Inc()
		return
	case session.EventRotated:
		m.rotated.Inc()
		return
	}
	if ev.Ends == 0 {
		return
	}
	var reason string
	switch ev.Kind {
	case session.EventDestroyed:
		reason = EndReplaced
		if ev.Detail == session.WhySignedOut {
			reason = EndSignedOut
		}
	case session.EventExpired:
		reason = EndIdle
		if strings.HasPrefix(ev.Detail, session.WhyAbsoluteTimeout) {
			reason = EndAbsolute
		}
	case session.EventRevoked:
		reason = EndRevoked
	case session.EventEvicted:
		reason = EndEvicted
	case session.EventClientChanged:
		reason = EndClientChanged
	case session.EventTokenReused:
		reason = EndTokenReused
	case session.EventBindingMissing:
		reason = EndBindingMissing
	default:
		return
	}
	m.ended.WithLabelValues(reason).Add(float64(ev.Ends))
}

// SessionsSwept counts n sessions the sweeper removed.
func (m *Metrics) SessionsSwept(n int) {
	if m != nil && n > 0 {
		m.ended.WithLabelValues(EndSwept).Add(float64(n))
	}
}

// Login counts a sign-in's outcome.
func (m *Metrics) Login(outcome string) {
	if m != nil {
		m.logins.WithLabelValues(outcome).Inc()
	}
}

// Throttled counts an attempt a throttle of that scope refused.
func (m *Metrics) Throttled(scope string) {
	if m != nil {
		m.throttled.WithLabelValues(scope).Inc()
	}
}

// SecurityEvent counts a security event of that kind; suppressed says it
// was past the per-client limit and not recorded.
func (m *Metrics) SecurityEvent(kind string, suppressed bool) {
	if m == nil {
		return
	}
	m.events.WithLabelValues(kind).Inc()
	if suppressed {
		m.suppressed.Inc()
	}
}

// Hashing reports the password hasher's queue and rejections, read from
// stats at each scrape.
func (m *Metrics) Hashing(stats func() auth.HasherStats) {
	if m == nil {
		return
	}
	gauge := func(name, help string, v func(auth.HasherStats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "password_hashing", Name: name, Help: help},
			func() float64 { return v(stats()) })
	}
	counter := func(name, help string, labels prometheus.Labels, v func(auth.HasherStats) float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Subsystem: "password_hashing", Name: name, Help: help, ConstLabels: labels},
			func() float64 { return v(stats()) })
	}
	m.reg.MustRegister(
		gauge("queue_depth", "Password hashes waiting for a slot.", func(s auth.HasherStats) float64 { return float64(s.Queued) }),
		gauge("queue_limit", "Password hashes that may wait at most.", func(s auth.HasherStats) float64 { return float64(s.Queue) }),
		gauge("running", "Password hashes being computed.", func(s auth.HasherStats) float64 { return float64(s.Running) }),
		gauge("slots", "Password hashes computed at once at most.", func(s auth.HasherStats) float64 { return float64(s.Slots) }),
		counter("hashes_total", "Password hashes computed (sign-ups, sign-ins, password checks).", nil,
			func(s auth.HasherStats) float64 { return float64(s.Computed) }),
		counter("rejected_total", "Requests refused before hashing: the queue was full or the wait too long (capacity), or the client's network had its share of the hashing under way (client_share).",
			prometheus.Labels{"reason": "capacity"}, func(s auth.HasherStats) float64 { return float64(s.RejectedBusy) }),
		counter("rejected_total", "Requests refused before hashing: the queue was full or the wait too long (capacity), or the client's network had its share of the hashing under way (client_share).",
			prometheus.Labels{"reason": "client_share"}, func(s auth.HasherStats) float64 { return float64(s.RejectedClient) }),
	)
}
