package intel

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"

	socbot "github.com/socbot/socbot"
)

// FileStore is a MemStore saved as JSON files in a directory (indicators.jsonl, sightings.jsonl,
// feeds.json, feed-status.json). It is the CLI's store until the SQL adapters implement Store; it is
// not meant for concurrent processes (the last Save wins).
type FileStore struct {
	*MemStore
	dir string
}

var _ Store = (*FileStore)(nil)

// OpenFileStore loads dir (created if missing).
func OpenFileStore(dir string) (*FileStore, error) {
	const op = "intel.OpenFileStore"
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, socbot.E(op, err)
	}
	fs := &FileStore{MemStore: NewMemStore(), dir: dir}
	ctx := context.Background()
	err := readLines(filepath.Join(dir, "indicators.jsonl"), func(dec *json.Decoder) error {
		var batch []Indicator
		for {
			var in Indicator
			if err := dec.Decode(&in); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			batch = append(batch, in)
			if len(batch) == 10000 {
				if err := fs.MemStore.PutIndicators(ctx, batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		return fs.MemStore.PutIndicators(ctx, batch)
	})
	if err != nil {
		return nil, socbot.E(op, err, "indicators.jsonl")
	}
	err = readLines(filepath.Join(dir, "sightings.jsonl"), func(dec *json.Decoder) error {
		var all []Sighting
		for {
			var s Sighting
			if err := dec.Decode(&s); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			all = append(all, s)
		}
		_, err := fs.MemStore.AddSightings(ctx, all)
		return err
	})
	if err != nil {
		return nil, socbot.E(op, err, "sightings.jsonl")
	}
	var feeds []Feed
	if err := readJSON(filepath.Join(dir, "feeds.json"), &feeds); err != nil {
		return nil, socbot.E(op, err, "feeds.json")
	}
	for _, f := range feeds {
		fs.MemStore.PutFeed(ctx, f)
	}
	var sts []FeedStatus
	if err := readJSON(filepath.Join(dir, "feed-status.json"), &sts); err != nil {
		return nil, socbot.E(op, err, "feed-status.json")
	}
	for _, s := range sts {
		fs.MemStore.PutFeedStatus(ctx, s)
	}
	return fs, nil
}

func readLines(path string, fn func(*json.Decoder) error) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(json.NewDecoder(bufio.NewReaderSize(f, 1<<20)))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeAtomic writes a file through a temporary file and a rename.
func writeAtomic(path string, fn func(w *bufio.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := fn(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Save writes everything to the directory.
func (fs *FileStore) Save() error {
	const op = "intel.FileStore.Save"
	ctx := context.Background()
	err := writeAtomic(filepath.Join(fs.dir, "indicators.jsonl"), func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		return fs.ScanIndicators(ctx, Filter{TenantID: "*", IncludeDead: true}, func(in *Indicator) error { return enc.Encode(in) })
	})
	if err != nil {
		return socbot.E(op, err)
	}
	err = writeAtomic(filepath.Join(fs.dir, "sightings.jsonl"), func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		fs.mu.RLock()
		defer fs.mu.RUnlock()
		for _, list := range fs.sightings {
			for _, s := range list {
				if err := enc.Encode(s); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return socbot.E(op, err)
	}
	feeds, _ := fs.Feeds(ctx, "*")
	fs.mu.RLock()
	var sts []FeedStatus
	for _, s := range fs.status {
		sts = append(sts, s)
	}
	fs.mu.RUnlock()
	for name, v := range map[string]any{"feeds.json": feeds, "feed-status.json": sts} {
		err := writeAtomic(filepath.Join(fs.dir, name), func(w *bufio.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(v)
		})
		if err != nil {
			return socbot.E(op, err)
		}
	}
	return nil
}
