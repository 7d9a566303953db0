package probe_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/connectbook/connectbook/probe"
)

// sarifLog mirrors the SARIF 2.1.0 properties the report must have, and
// those code scanning reads.
type sarifLog struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name           string `json:"name"`
				InformationURI string `json:"informationUri"`
				Rules          []struct {
					ID               string                 `json:"id"`
					ShortDescription *struct{ Text string } `json:"shortDescription"`
					FullDescription  *struct{ Text string } `json:"fullDescription"`
					Help             *struct{ Text string } `json:"help"`
					HelpURI          string                 `json:"helpUri"`
					Properties       struct {
						Tags             []string `json:"tags"`
						SecuritySeverity string   `json:"security-severity"`
					} `json:"properties"`
				} `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Invocations []struct {
			ExecutionSuccessful *bool `json:"executionSuccessful"`
			Notifications       []struct {
				Level      string
				Message    struct{ Text string }
				Descriptor *struct{ ID string }
			} `json:"toolExecutionNotifications"`
		} `json:"invocations"`
		Results []struct {
			RuleID    string                 `json:"ruleId"`
			RuleIndex *int                   `json:"ruleIndex"`
			Level     string                 `json:"level"`
			Message   *struct{ Text string } `json:"message"`
			Locations []struct {
				PhysicalLocation struct {
					ArtifactLocation struct{ URI string } `json:"artifactLocation"`
				} `json:"physicalLocation"`
			} `json:"locations"`
		} `json:"results"`
	} `json:"runs"`
}

func parseSARIF(t *testing.T, text string) sarifLog {
	t.Helper()
	var log sarifLog
	if err := json.Unmarshal([]byte(text), &log); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, text)
	}
	if log.Version != "2.1.0" || !strings.HasSuffix(log.Schema, "sarif-schema-2.1.0.json") || len(log.Runs) != 1 {
		t.Fatalf("version %q, $schema %q, %d runs", log.Version, log.Schema, len(log.Runs))
	}
	if d := log.Runs[0].Tool.Driver; d.Name != "connectbook probe" || d.InformationURI == "" {
		t.Errorf("driver %q at %q", d.Name, d.InformationURI)
	}
	if len(log.Runs[0].Invocations) != 1 || log.Runs[0].Invocations[0].ExecutionSuccessful == nil {
		t.Fatalf("invocations %+v", log.Runs[0].Invocations)
	}
	return log
}

func TestSARIF(t *testing.T) {
	rep := handReport(
		finding(probe.CookieScope, "low", "the sid cookie: its name lacks the __Host- prefix"),
		finding(probe.FixationAdoptedID, "high", "the id sid=planted-value-0123456789 is logged in"),
		finding(probe.CookieFlags, "medium", "the sid cookie lacks Secure"),
	)
	rep.Findings[1].Evidence[0].Request = "GET /profile\nCookie: sid=planted-value-0123456789"
	var b strings.Builder
	if err := rep.WriteSARIF(&b); err != nil {
		t.Fatal(err)
	}
	log := parseSARIF(t, b.String())
	run := log.Runs[0]
	var rules []string
	for _, r := range run.Tool.Driver.Rules {
		rules = append(rules, r.ID)
		if r.ShortDescription == nil || r.FullDescription == nil || r.Help == nil || r.HelpURI == "" ||
			!slices.Contains(r.Properties.Tags, "security") || r.Properties.SecuritySeverity == "" {
			t.Errorf("rule %s incomplete: %+v", r.ID, r)
		}
	}
	for _, id := range []string{probe.FixationAdoptedID, probe.FixationPreauthID, probe.FixationAuthenticatedID, probe.TokenInURL,
		probe.WeakToken, probe.LogoutReplay, probe.CookieFlags, probe.CookieScope, probe.NoIdleTimeout} {
		if !slices.Contains(rules, id) {
			t.Errorf("no rule for %s", id)
		}
	}
	var got []string
	for _, r := range run.Results {
		got = append(got, r.RuleID+" "+r.Level)
		if r.RuleIndex == nil || rules[*r.RuleIndex] != r.RuleID {
			t.Errorf("result %s: rule index %v", r.RuleID, r.RuleIndex)
		}
		// Code scanning refuses locations that are not relative paths.
		if r.Message == nil || r.Message.Text == "" || len(r.Locations) != 1 {
			t.Errorf("result %s: message %v, locations %+v", r.RuleID, r.Message, r.Locations)
		} else if u := r.Locations[0].PhysicalLocation.ArtifactLocation.URI; u == "" || strings.Contains(u, ":") || strings.HasPrefix(u, "/") {
			t.Errorf("result %s: location %q is not a relative path", r.RuleID, u)
		}
	}
	want := []string{"fixation-adopted-id error", "cookie-flags warning", "cookie-scope note"}
	if !slices.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if !*run.Invocations[0].ExecutionSuccessful {
		t.Error("execution not successful")
	}
	var notes []string
	for _, n := range run.Invocations[0].Notifications {
		notes = append(notes, n.Descriptor.ID+" "+n.Level)
	}
	if want := []string{"logout-replay warning", "no-idle-timeout note"}; !slices.Equal(notes, want) {
		t.Errorf("notifications %v, want %v", notes, want)
	}
	if strings.Contains(b.String(), "planted-value-0123456789") {
		t.Error("the log holds a cookie value")
	}
	if !strings.Contains(b.String(), `"security-severity": "8.0"`) {
		t.Error("no security-severity 8.0 for a high finding")
	}
}

func TestFailedSARIF(t *testing.T) {
	var b strings.Builder
	if err := probe.WriteFailedSARIF(&b, "https://example.test", probe.ErrUnreachable); err != nil {
		t.Fatal(err)
	}
	log := parseSARIF(t, b.String())
	inv := log.Runs[0].Invocations[0]
	if *inv.ExecutionSuccessful || len(inv.Notifications) != 1 || inv.Notifications[0].Level != "error" ||
		!strings.Contains(inv.Notifications[0].Message.Text, "Target unreachable.") || len(log.Runs[0].Results) != 0 {
		t.Errorf("invocation %+v, %d results", inv, len(log.Runs[0].Results))
	}
}
