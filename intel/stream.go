package intel

import (
	"context"

	socbot "github.com/socbot/socbot"
)

// IngestStream ingests the items a reader emits, in batches of IngestBatch, as a pipeline of three
// goroutines: the reading (a feed parser, a spool decoder), the preparation of each batch
// (normalising, merging within the batch, building the new indicators) and the writing (merging with
// the stored indicators, one store transaction per batch). On a machine with two cores, parsing and
// preparing cost little wall-clock time and the store's single writer is kept busy. Each batch is
// one Ingest; a failure stops the stream and returns the counts of the batches stored so far.
// progress, when not nil, is called after every stored batch.
func (e *Engine) IngestStream(ctx context.Context, tenantID string, src SourceInfo, read func(emit func(Item) error) error,
	progress func(IngestStats)) (IngestStats, error) {
	var total IngestStats
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	raw := make(chan []Item, 1)
	batches := make(chan *preparedBatch, 1)
	// the memory of batches done with goes back to the stage before (less garbage to collect)
	freeRaw := make(chan []Item, 3)
	freeBatches := make(chan *preparedBatch, 3)
	readErr := make(chan error, 1)
	go func() { // read
		defer close(raw)
		batch := make([]Item, 0, IngestBatch)
		send := func() error {
			select {
			case raw <- batch:
				select {
				case batch = <-freeRaw:
				default:
					batch = make([]Item, 0, IngestBatch)
				}
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
	prepErr := make(chan error, 1)
	go func() { // prepare
		defer close(batches)
		var err error
		for items := range raw {
			if err != nil {
				continue // drain, so the reader ends
			}
			var b *preparedBatch
			select {
			case b = <-freeBatches:
			default:
			}
			b, err = e.prepare(b, tenantID, src, items)
			clear(items) // no references kept into the parser's values
			select {
			case freeRaw <- items[:0]:
			default:
			}
			if err != nil {
				cancel(err)
				continue
			}
			select {
			case batches <- b:
			case <-ctx.Done():
				err = context.Cause(ctx)
			}
		}
		prepErr <- err
	}()
	var ingestErr error
	for b := range batches {
		if ingestErr != nil {
			continue // drain, so the stages before end
		}
		st, err := e.write(ctx, b)
		total.Add(st)
		select {
		case freeBatches <- b:
		default:
		}
		if err != nil {
			ingestErr = err
			cancel(err)
			continue
		}
		if progress != nil {
			progress(total)
		}
	}
	rerr, perr := <-readErr, <-prepErr
	switch {
	case ingestErr != nil:
		return total, ingestErr
	case perr != nil && rerr == nil:
		return total, socbot.E("intel.IngestStream", perr)
	case rerr != nil:
		return total, socbot.E("intel.IngestStream", rerr)
	}
	return total, nil
}
