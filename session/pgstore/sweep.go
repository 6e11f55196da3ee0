package pgstore

import (
	"context"
	"time"
)

// sweepTables are the tables whose expired rows the sweep deletes.
var sweepTables = []string{"bff_sessions", "bff_session_index", "bff_replay"}

func (s *Store) sweepLoop(every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		_, _ = s.Sweep(ctx) // a failure leaves the rows for the next round; reads ignore them
		cancel()
	}
}

// Sweep deletes expired rows in batches of the configured size (each its
// own short statement, so no long lock or transaction builds up) until
// none is left, and returns how many it deleted.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var total int64
	for _, table := range sweepTables {
		for {
			cctx, cancel := s.call(ctx)
			tag, err := s.pool.Exec(cctx, `DELETE FROM `+table+` WHERE ctid = ANY (ARRAY(
				SELECT ctid FROM `+table+` WHERE expiry <= now() LIMIT $1))`, s.batch)
			cancel()
			if err != nil {
				return total, pgErr("sweep "+table, err)
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < int64(s.batch) {
				break
			}
		}
	}
	return total, nil
}
