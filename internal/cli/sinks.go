package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/custos-io/custos/internal/finding"
	"github.com/custos-io/custos/internal/sink"
)

func newSinks(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sinks",
		Short: "Check the configured finding sinks (SIEM, syslog, HEC, webhooks)",
	}
	cmd.AddCommand(newSinksTest(e))
	return cmd
}

func newSinksTest(e *env) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "test [NAME...]",
		Short: "Send one test finding to each configured sink (or the named ones)",
		Long: `Test builds each sink from the configuration and sends it one informational
test finding (rule custos_sink_test) directly, bypassing the outbox and the
sink's filter, so a connection, certificate, token or signature problem shows
at once. It exits non-zero if any sink failed.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := e.config()
			if err != nil {
				return err
			}
			if len(cfg.Sinks) == 0 {
				return errors.New("no sinks configured (add a sinks: list to the configuration)")
			}
			want, unseen := map[string]bool{}, map[string]bool{}
			for _, a := range args {
				want[a], unseen[a] = true, true
			}
			opts := sink.BuildOptions{Product: product()}
			failed := 0
			for i := range cfg.Sinks {
				c := &cfg.Sinks[i]
				if len(want) > 0 && !want[c.Name] {
					continue
				}
				delete(unseen, c.Name)
				err := testSink(cmd.Context(), c, opts, timeout)
				if err != nil {
					failed++
					fmt.Fprintf(e.stdout, "%s (%s): FAILED: %v\n", c.Name, c.Type, err)
					continue
				}
				fmt.Fprintf(e.stdout, "%s (%s): delivered\n", c.Name, c.Type)
			}
			for _, name := range args {
				if !unseen[name] {
					continue
				}
				failed++
				fmt.Fprintf(e.stdout, "%s: no such sink in the configuration\n", name)
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d sink(s) failed", failed)}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up on a sink after this long (HEC acknowledgement included)")
	return cmd
}

func testSink(ctx context.Context, c *sink.Config, opts sink.BuildOptions, timeout time.Duration) error {
	s, err := c.Build(opts)
	if err != nil {
		return err
	}
	defer s.Sender.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	f := &finding.Finding{
		Kind:     finding.KindAlert,
		ID:       finding.ID("al", "custos_sink_test", c.Name, now.Format(time.RFC3339Nano)),
		Time:     now,
		Actor:    finding.ActorRef{ID: "custos-sink-test"},
		Rule:     "custos_sink_test",
		Severity: finding.Info,
		Summary:  "Test finding from custos sinks test: if you can read this, sink " + c.Name + " works.",
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err = s.Sender.Send(ctx, []sink.Record{{Seq: 1, Added: now, Finding: f}})
	return err
}

// product is Custos as it names itself to SIEMs.
func product() sink.Product {
	p := sink.DefaultProduct
	p.Version = Version
	return p
}
