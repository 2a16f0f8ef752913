package ldapsync

import (
	"bufio"
	"encoding/gob"
	"errors"
	"io"
	"os"
)

// spool holds the entries a fetch read, on disk, so that a run keeps one
// page in memory however large the directory is, and writes nothing to the
// store until the whole directory has been read.
type spool struct {
	f   *os.File
	w   *bufio.Writer
	enc *gob.Encoder
	n   int
}

func newSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, "ldapsync-*.spool")
	if err != nil {
		return nil, err
	}
	// Unlinked at once: the file lives only as long as the open handle.
	_ = os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 256<<10)
	return &spool{f: f, w: w, enc: gob.NewEncoder(w)}, nil
}

func (s *spool) add(r *record) error {
	s.n++
	return s.enc.Encode(r)
}

// each calls fn with successive batches of at most size records.
func (s *spool) each(size int, fn func(batch []*record) error) error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 256<<10))
	batch := make([]*record, 0, size)
	for {
		r := &record{}
		err := dec.Decode(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		batch = append(batch, r)
		if len(batch) == size {
			if err := fn(batch); err != nil {
				return err
			}
			batch = make([]*record, 0, size)
		}
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

func (s *spool) close() error {
	if s == nil {
		return nil
	}
	return s.f.Close()
}
