package probe

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SARIF 2.1.0, as much of it as the report needs: code scanning tools
// (GitHub's among them) read it and show the findings.
const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	toolName     = "connectbook probe"
	toolURI      = "https://github.com/connectbook/connectbook#proving-it-the-probe-and-the-lab"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	ShortDescription sarifText      `json:"shortDescription"`
	FullDescription  sarifText      `json:"fullDescription"`
	Help             sarifText      `json:"help"`
	HelpURI          string         `json:"helpUri,omitempty"`
	DefaultConfig    sarifConfig    `json:"defaultConfiguration"`
	Properties       sarifRuleProps `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool                `json:"executionSuccessful"`
	Notifications       []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level      string     `json:"level"`
	Message    sarifText  `json:"message"`
	Descriptor *sarifDesc `json:"descriptor,omitempty"`
}

type sarifDesc struct {
	ID string `json:"id"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]string `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

// sarifPath is where a finding shows on the site, as code scanning takes
// a location: a relative path (uploads refuse http:// URIs). It is the
// path of the finding's first request, without its leading slash; the
// full URL is in the result's properties.
func sarifPath(f Finding) string {
	for _, s := range f.Evidence {
		line, _, _ := strings.Cut(s.Request, "\n")
		_, target, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(target, "/") {
			continue
		}
		path, _, _ := strings.Cut(target, "?")
		if path = strings.TrimPrefix(path, "/"); path != "" {
			return path
		}
		return "index"
	}
	return "index"
}

// sarifLevels and sarifSeverities map severities to SARIF levels and to
// the security-severity scores code scanning sorts by.
var (
	sarifLevels     = map[string]string{"high": "error", "medium": "warning", "low": "note"}
	sarifSeverities = map[string]string{"high": "8.0", "medium": "5.0", "low": "3.0"}
)

// WriteSARIF writes the report as a SARIF 2.1.0 log, for CI systems that
// show a scanner's findings: a rule for every finding the probe knows, a
// result for each found (located at the target's URL), and a notification
// for each check that was skipped. Cookie and token values are masked.
func (r *Report) WriteSARIF(w io.Writer) error {
	log := newSARIF(true)
	run := &log.Runs[0]
	m := newMasker(r)
	index := map[string]int{}
	for i, rule := range run.Tool.Driver.Rules {
		index[rule.ID] = i
	}
	for _, f := range bySeverity(r.Findings) {
		i, ok := index[f.ID]
		if !ok {
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(f.ID, f))
			i = len(run.Tool.Driver.Rules) - 1
			index[f.ID] = i
		}
		msg := f.Title + "."
		if f.Detail != "" {
			msg += " " + m.mask(sentence(f.Detail))
		}
		sum := sha256.Sum256([]byte(f.ID + "\x00" + r.Target))
		run.Results = append(run.Results, sarifResult{
			RuleID: f.ID, RuleIndex: i, Level: cmp.Or(sarifLevels[f.Severity], "warning"),
			Message:             sarifText{msg},
			Locations:           []sarifLocation{{sarifPhysical{sarifArtifact{sarifPath(f)}}}},
			PartialFingerprints: map[string]string{"connectbookProbe/v1": hex.EncodeToString(sum[:16])},
			Properties:          map[string]string{"severity": f.Severity, "url": strings.TrimSuffix(r.Target, "/") + "/" + sarifPath(f)},
		})
	}
	skipped := map[string]bool{}
	for _, s := range r.Skipped {
		id, _, _ := strings.Cut(s, ": ")
		skipped[id] = true
	}
	for _, c := range r.Checks {
		if c.Outcome != OutcomeSkipped {
			continue
		}
		// A check that could not run leaves a gap a reader should see; one
		// not asked for (the idle timeout without an idle wait) is a note.
		level := "note"
		if skipped[c.ID] {
			level = "warning"
		}
		run.Invocations[0].Notifications = append(run.Invocations[0].Notifications, sarifNotification{
			Level: level, Message: sarifText{fmt.Sprintf("%s was skipped: %s", c.ID, m.mask(sentence(c.Why)))},
			Descriptor: &sarifDesc{c.ID}})
	}
	return writeJSON(w, log)
}

// WriteFailedSARIF writes the SARIF log of a probe of target that could
// not run: no results, and the reason as a notification, so that a CI
// step that uploads the file finds one.
func WriteFailedSARIF(w io.Writer, target string, runErr error) error {
	log := newSARIF(false)
	log.Runs[0].Invocations[0].Notifications = []sarifNotification{{Level: "error",
		Message: sarifText{"The probe of " + target + " could not run: " + sentence(runErr.Error())}}}
	return writeJSON(w, log)
}

func newSARIF(ok bool) sarifLog {
	rules := make([]sarifRule, 0, len(findingIDs))
	for _, id := range findingIDs {
		rules = append(rules, sarifRuleFor(id, Finding{}))
	}
	return sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{{
		Tool:        sarifTool{sarifDriver{Name: toolName, InformationURI: toolURI, Rules: rules}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: ok}},
		Results:     []sarifResult{},
	}}}
}

// sarifRuleFor describes the finding id, from the catalog or, for one it
// lacks, from a finding.
func sarifRuleFor(id string, f Finding) sarifRule {
	e, ok := catalog[id]
	if !ok {
		e = entry{title: f.Title, severity: f.Severity, fix: f.Fix}
	}
	full := e.title + "."
	if e.checks != "" {
		full += " The probe " + strings.ToLower(e.checks[:1]) + e.checks[1:]
	}
	tags := []string{"security", "session-management"}
	for _, c := range e.cwe {
		tags = append(tags, fmt.Sprintf("external/cwe/cwe-%d", c))
	}
	for _, a := range e.asvs {
		tags = append(tags, "asvs-5.0/v"+a)
	}
	for _, t := range e.wstg {
		tags = append(tags, strings.ToLower(t))
	}
	help := e.fix
	var helpURI string
	if refs := references(id); len(refs) > 0 {
		var names []string
		for _, ref := range refs {
			names = append(names, ref.Name+" ("+ref.URL+")")
		}
		help += " References: " + strings.Join(names, ", ") + "."
		helpURI = refs[len(refs)-1].URL // the WSTG test: how to check by hand
	}
	return sarifRule{ID: id, Name: ruleName(id), ShortDescription: sarifText{e.title}, FullDescription: sarifText{full},
		Help: sarifText{help}, HelpURI: helpURI, DefaultConfig: sarifConfig{cmp.Or(sarifLevels[e.severity], "warning")},
		Properties: sarifRuleProps{Tags: tags, SecuritySeverity: cmp.Or(sarifSeverities[e.severity], "5.0"), Precision: "high"}}
}

// ruleName is id in the PascalCase SARIF prefers for names:
// "fixation-adopted-id" becomes "FixationAdoptedId".
func ruleName(id string) string {
	var b strings.Builder
	for part := range strings.SplitSeq(id, "-") {
		b.WriteString(capitalise(part))
	}
	return b.String()
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
