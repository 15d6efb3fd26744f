package intel

import (
	"context"

	socbot "github.com/socbot/socbot"
)

// IngestStream ingests the items a reader emits, in batches of IngestBatch, with the reading (a feed
// parser, a spool decoder) running on its own goroutine while the previous batch is merged and
// stored: on a machine with two cores, parsing costs no wall-clock time. Each batch is one Ingest
// call (one store transaction); a failure stops the stream and returns the counts of the batches
// stored so far. progress, when not nil, is called after every stored batch.
func (e *Engine) IngestStream(ctx context.Context, tenantID string, src SourceInfo, read func(emit func(Item) error) error,
	progress func(IngestStats)) (IngestStats, error) {
	var total IngestStats
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []Item, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]Item, 0, IngestBatch)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]Item, 0, IngestBatch)
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		err := read(func(it Item) error {
			batch = append(batch, it)
			if len(batch) == IngestBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(batch) > 0 {
			err = send()
		}
		readErr <- err
	}()
	var ingestErr error
	for b := range batches {
		if ingestErr != nil {
			continue // drain, so the reader ends
		}
		st, err := e.Ingest(ctx, tenantID, src, b)
		total.Add(st)
		if err != nil {
			ingestErr = err
			cancel(err)
			continue
		}
		if progress != nil {
			progress(total)
		}
	}
	rerr := <-readErr
	if ingestErr != nil {
		return total, ingestErr
	}
	if rerr != nil {
		return total, socbot.E("intel.IngestStream", rerr)
	}
	return total, nil
}
