package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"

	socbot "github.com/socbot/socbot"
	"github.com/socbot/socbot/httpapi"
	"github.com/socbot/socbot/normalize"
)

func init() {
	register("ingest", "Post alert files (any supported format; JSON, arrays or NDJSON) to a socbot server.", &ingestCmd{})
}

type ingestCmd struct {
	Files    []string `arg:"" type:"existingfile" help:"Files of alerts: a JSON object, a JSON array, NDJSON, or API responses with the usual envelopes."`
	URL      string   `help:"socbot server URL." default:"http://127.0.0.1:8080" env:"SOCBOT_URL"`
	Token    string   `required:"" help:"Ingest (or admin) API token." env:"SOCBOT_TOKEN"`
	Tenant   string   `help:"Tenant name or id (admin tokens only)."`
	Format   string   `help:"Format of every record (default: detected per record)."`
	Batch    int      `help:"Records per request." default:"500"`
	Parallel int      `help:"Requests in flight." default:"4"`
	Quiet    bool     `help:"No progress bar."`
}

type ingestStats struct {
	accepted, rejected, failedRecords atomic.Int64
}

func (c *ingestCmd) Run(g *Globals) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if c.Batch <= 0 || c.Parallel <= 0 {
		return socbot.FieldError("ingest", "batch", "--batch and --parallel must be positive")
	}
	var total int64
	for _, f := range c.Files {
		st, err := os.Stat(f)
		if err != nil {
			return err
		}
		total += st.Size()
	}
	var bar *progressbar.ProgressBar
	if !c.Quiet && isatty.IsTerminal(os.Stderr.Fd()) {
		bar = progressbar.NewOptions64(total, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("ingest"), progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond))
	}
	type job struct {
		file   string
		first  int // index of the first record in the file
		body   []byte
		format string
		count  int
		nbytes int64
	}
	jobs := make(chan job, c.Parallel)
	var stats ingestStats
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	client := &http.Client{Timeout: 2 * time.Minute}
	for i := 0; i < c.Parallel; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				resp, err := c.post(ctx, client, j.body, j.format)
				if err != nil {
					stats.failedRecords.Add(int64(j.count))
					errOnce.Do(func() { firstErr = fmt.Errorf("%s: records %d-%d: %w", j.file, j.first, j.first+j.count-1, err) })
				} else {
					stats.accepted.Add(int64(resp.Accepted))
					stats.rejected.Add(int64(len(resp.Rejected)))
					for _, r := range resp.Rejected {
						fmt.Fprintf(os.Stderr, "%s: record %d rejected: %s\n", j.file, j.first+r.Index, r.Error)
					}
				}
				if bar != nil {
					_ = bar.Add64(j.nbytes)
				}
			}
		}()
	}
	for _, f := range c.Files {
		data, err := os.ReadFile(f)
		if err != nil {
			close(jobs)
			wg.Wait()
			return err
		}
		// Zeek ASCII logs are read into Zeek's JSON form here; everything else goes as it is.
		records, format := normalize.Records, c.Format
		if head := data[:min(len(data), 4096)]; bytes.HasPrefix(head, []byte("#separator")) || bytes.Contains(head, []byte("\n#separator")) {
			records = normalize.ZeekTSV
			if format == "" {
				format = "zeek_notice"
			}
		}
		var batch bytes.Buffer
		count, first, last := 0, 0, 0
		flush := func(end int) {
			if count == 0 {
				return
			}
			jobs <- job{file: f, first: first, body: append([]byte(nil), batch.Bytes()...), format: format, count: count, nbytes: int64(max(end-last, 0))}
			batch.Reset()
			first += count
			count, last = 0, end
		}
		_ = records(data, func(i int, rec []byte, err error) error {
			if err != nil {
				stats.rejected.Add(1)
				fmt.Fprintf(os.Stderr, "%s: record %d is not valid JSON: %s\n", f, i, socbot.ErrorField(err)+err.Error())
				if count == 0 {
					first = i + 1
				}
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			batch.Write(rec)
			batch.WriteByte('\n')
			count++
			if count >= c.Batch || batch.Len() >= 4<<20 {
				end := last
				if len(rec) > 0 && cap(rec) <= cap(data) && &data[:cap(data)][cap(data)-cap(rec)] == &rec[0] {
					end = cap(data) - cap(rec) + len(rec) // rec is a slice of data: this is where it ends
				}
				flush(end)

			}
			return nil
		})
		flush(len(data))
		if bar != nil && last < len(data) && count == 0 {
			_ = bar.Add64(int64(len(data) - last))
		}
	}
	close(jobs)
	wg.Wait()
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	fmt.Printf(`{"accepted": %d, "rejected": %d, "failed": %d}`+"\n", stats.accepted.Load(), stats.rejected.Load(), stats.failedRecords.Load())
	return firstErr
}

// post sends one gzip-compressed NDJSON batch, retrying on 429, 503 and network errors with backoff.
func (c *ingestCmd) post(ctx context.Context, client *http.Client, ndjson []byte, format string) (httpapi.IngestResponse, error) {
	var out httpapi.IngestResponse
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(ndjson)
	_ = zw.Close()
	q := url.Values{}
	if c.Tenant != "" {
		q.Set("tenant", c.Tenant)
	}
	if format != "" {
		q.Set("format", format)
	}
	target := c.URL + "/api/v1/alerts"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	backoff := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(gz.Bytes()))
		if err != nil {
			return out, err
		}
		req.Header.Set("Authorization", "Bearer "+c.Token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := client.Do(req)
		retry := err != nil
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte(`"rejected"`)):
				return out, json.Unmarshal(body, &out)
			case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
				retry = true
				err = fmt.Errorf("server answered %s: %s", resp.Status, bytes.TrimSpace(body))
			default:
				return out, fmt.Errorf("server answered %s: %s", resp.Status, bytes.TrimSpace(body))
			}
		}
		if !retry || attempt >= 8 || ctx.Err() != nil {
			return out, err
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}
