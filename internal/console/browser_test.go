package console

import (
	"context"
	"encoding/csv"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

var screenshots = flag.String("screenshots", "", "write PNG screenshots of the main pages into this directory (TestScreenshots)")

// chromium starts headless Chromium for one test, or skips the test with
// the install line when there is none.
func chromium(t *testing.T, width, height int) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("browser tests need Chromium: apt-get install -y chromium")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Skipf("browser tests: Chromium at %s does not start: %v", path, err)
	}
	return ctx
}

// uiLogin signs in through the login form.
func uiLogin(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.queue`)),
	); err != nil {
		t.Fatalf("logging in as %s: %v", name, err)
	}
}

// canvasInk counts the pixels of a chart's canvas drawn in the actor's
// series colour: zero means the chart did not render.
const canvasInk = `(() => {
  const c = document.querySelector('.chart[data-chart="case"] canvas');
  if (!c) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i+3] > 200 && Math.abs(d[i]-37) < 30 && Math.abs(d[i+1]-99) < 30 && Math.abs(d[i+2]-235) < 30) n++;
  }
  return n;
})()`

func TestBrowser(t *testing.T) {
	h := newHarness(t)
	ctx := chromium(t, 1400, 900)
	base := h.srv.URL
	insider := h.caseOf("n-pay-03")
	ps := h.c.pseudo.Of("n-pay-03")

	t.Run("open a case and see the chart", func(t *testing.T) {
		uiLogin(t, ctx, base, "lee")
		// The riskiest open case is first; open the insider's from the queue.
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`a.summary[href="/cases/`+insider+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#summary`)),
			chromedp.WaitVisible(chromedp.CSS(`.chart[data-chart="case"][data-drawn] canvas`)),
		); err != nil {
			t.Fatalf("opening the case: %v", err)
		}
		summary, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#summary`)))
		if err != nil || !strings.Contains(summary, ps) || !strings.Contains(summary, "no ticket") {
			t.Errorf("summary %q (%v): want the pseudonym and the explanation", summary, err)
		}
		ink, err := chromedp.Run(ctx, chromedp.Evaluate[int](canvasInk))
		if err != nil || ink < 50 {
			t.Errorf("the case chart drew %d pixels of the agent's series (%v); want a visible line", ink, err)
		}
		// The metric tabs redraw the chart.
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(`//button[text()="Accesses citing no ticket"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.chart[data-drawn="noticket"]`))); err != nil {
			t.Errorf("switching the chart's metric: %v", err)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.grid.evidence tbody tr").length`)); n < 10 {
			t.Errorf("%d evidence rows", n)
		}
	})

	t.Run("run an exposure query and download its CSV", func(t *testing.T) {
		dir := t.TempDir()
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		progress := chromedp.Events(dctx, cdpbrowser.DownloadProgress)
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/exposure"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=agent]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=agent]`), ps),
			chromedp.SetValue(chromedp.CSS(`input[name=from]`), "2026-03-12"),
			chromedp.SetValue(chromedp.CSS(`input[name=until]`), "2026-03-15"),
			chromedp.Click(chromedp.CSS(`#run-exposure`)),
			chromedp.WaitVisible(chromedp.CSS(`#exposure-table`)),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
					Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptrTo(true),
				})
				return err
			}),
		); err != nil {
			t.Fatalf("running the exposure query: %v", err)
		}
		shown, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#exposure-customers`)))
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#exposure-csv`))); err != nil {
			t.Fatal(err)
		}
		var file string
		for ev, err := range progress {
			if err != nil {
				t.Fatalf("waiting for the download: %v", err)
			}
			if ev.State == cdpbrowser.DownloadProgressStateCompleted {
				file = filepath.Join(dir, ev.GUID)
				break
			}
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatalf("the download is not CSV: %v", err)
		}
		if len(rows) < 2 || strings.Join(rows[0], ",") != "customer,agents,fields,resources,actions,accesses,unjustified_accesses,identity_document,date_of_birth,tickets,first,last" {
			t.Fatalf("CSV header %v, %d rows", rows[0], len(rows))
		}
		if got := strings.TrimSpace(shown); got == "" || got != strconv.Itoa(len(rows)-1) {
			t.Errorf("the page says %q customers, the CSV has %d rows", shown, len(rows)-1)
		}
		for _, r := range rows[1:] {
			if r[1] != ps {
				t.Fatalf("CSV row for another agent: %v", r)
			}
		}
		if len(h.auditOf(AuditExport)) != 1 {
			t.Error("the download was not audited as an export")
		}
	})

	t.Run("a vendor supervisor cannot open another vendor's case", func(t *testing.T) {
		// A fresh login as the bpo-south supervisor, then the bpo-north
		// insider's case by URL.
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cases"), chromedp.Submit(chromedp.CSS(`form[action="/logout"]`)),
			chromedp.WaitVisible(chromedp.CSS(`input[name=name]`))); err != nil {
			t.Fatal(err)
		}
		uiLogin(t, ctx, base, "vsouth")
		res, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/cases/"+insider))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 403 {
			t.Errorf("status %d, want 403", res.Status)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "Access denied") {
			t.Errorf("the page does not say access is denied: %q", text)
		}
		for _, leak := range []string{ps, "kyc_document", "bpo-north", "no ticket", insider[5:13]} {
			if strings.Contains(text, leak) {
				t.Errorf("the 403 page shows %q", leak)
			}
		}
		// Own vendor's case opens.
		res, err = chromedp.RunResponse(ctx, chromedp.Navigate(base+"/cases/"+h.caseOf("s-pay-02")))
		if err != nil || res.Status != 200 {
			t.Errorf("own vendor's case: %v %v", statusOf(res), err)
		}
	})
}

func statusOf(r *network.Response) int64 {
	if r == nil {
		return 0
	}
	return r.Status
}

func ptrTo[T any](v T) *T { return &v }

// TestScreenshots writes the docs' screenshots: go test ./internal/console
// -run TestScreenshots -screenshots ../../docs/img (scripts/screenshots.sh).
func TestScreenshots(t *testing.T) {
	if *screenshots == "" {
		t.Skip("pass -screenshots DIR to write the docs' screenshots")
	}
	// A clock that moves on a little at every look, so the audit trail in
	// the screenshot reads like a working session.
	tick := &clock{t: time.Date(2026, 3, 16, 8, 12, 0, 0, time.UTC)}
	h := newHarness(t, func(o *Options) {
		o.Now = func() time.Time { tick.Add(1500 * time.Millisecond); return tick.Now() }
	})
	h.clock = tick
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := chromium(t, 1440, 1100)
	base := h.srv.URL
	insider := h.caseOf("n-pay-03")
	// Some history so the pages look used.
	lee := h.login("lee")
	lee.form("/cases/"+insider+"/assign", "to", "lee")
	lee.form("/cases/"+insider+"/comment", "note", "After-hours KYC looks on three nights, no tickets. Asked bpo-north for the shift roster.")
	lee.form("/cases/"+insider+"/verdict", "verdict", VerdictTrue)
	fp := h.caseOf("n-pay-06")
	lee.form("/cases/"+fp+"/verdict", "verdict", VerdictFalse)
	lee.form("/cases/"+fp+"/close", "reason", closeReasons[3], "note", "Tickets filed in the wrong queue; coached.")
	pia := h.login("pia")
	pia.get("/exposure?agent=" + h.c.pseudo.Of("n-pay-03") + "&from=2026-03-12&until=2026-03-15")
	pia.get("/exposure.csv?agent=" + h.c.pseudo.Of("n-pay-03") + "&from=2026-03-12&until=2026-03-15")
	pia.form("/actors/"+h.c.pseudo.Of("n-rec-04")+"/reveal", "reason", "Contract ended on 11 March; confirming identity with bpo-north HR")

	shots := []struct {
		user, name, path, wait string
		full                   bool
	}{
		{"lee", "cases", "/cases?status=all", "table.queue", false},
		{"lee", "case", "/cases/" + insider, `.chart[data-drawn] canvas`, false},
		{"lee", "actor", "/actors/" + h.c.pseudo.Of("n-pay-03"), `.chart[data-chart="daily"][data-drawn] canvas`, false},
		{"pia", "exposure", "/exposure?agent=" + h.c.pseudo.Of("n-pay-03") + "&from=2026-03-12&until=2026-03-15", "#exposure-table", false},
		{"pia", "attribution", "/attribution?customers=" + attributionSet(t, h), "table.grid", false},
		{"lee", "roster", "/roster", "table.grid", false},
		{"lee", "rules", "/rules", "table.grid", false},
		{"admin", "audit", "/admin/audit", "#audit-table", false},
		{"vnorth", "forbidden", "/cases/" + h.caseOf("s-pay-02"), ".errorpage", false},
	}
	current := ""
	for _, s := range shots {
		if s.user != current {
			if current != "" {
				if err := chromedp.Do(ctx, chromedp.Navigate(base+"/cases"), chromedp.Submit(chromedp.CSS(`form[action="/logout"]`)),
					chromedp.WaitVisible(chromedp.CSS(`input[name=name]`))); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS(`input[name=name]`))); err != nil {
					t.Fatal(err)
				}
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err != nil {
					t.Fatal(err)
				}
				writeShot(t, "login", png)
			}
			uiLogin(t, ctx, base, s.user)
			current = s.user
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+s.path), chromedp.WaitVisible(chromedp.CSS(s.wait)), chromedp.Sleep(300*time.Millisecond)); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		var png []byte
		var err error
		if s.full {
			png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		} else {
			png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
		}
		if err != nil {
			t.Fatal(err)
		}
		writeShot(t, s.name, png)
	}
}

func writeShot(t *testing.T, name string, png []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(*screenshots, "console-"+name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// attributionSet is eight customers the bulk insider looked at on its last
// night, with two more that others saw.
func attributionSet(t *testing.T, h *harness) string {
	evs, _ := h.src.ActorEvents(context.Background(), "n-pay-03", time.Date(2026, 3, 15, 22, 0, 0, 0, time.UTC), time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), 0)
	var ids []string
	for _, e := range evs {
		if e.Resource == "kyc_document" && len(ids) < 8 {
			ids = append(ids, e.Subject)
		}
	}
	return strings.Join(append(ids, "c-0007", "c-0100"), "%2C")
}
