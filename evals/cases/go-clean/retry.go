package retry

import (
	"context"
	"time"
)

// Do calls fn until it succeeds, the attempts run out or ctx is done.
func Do(ctx context.Context, attempts int, wait time.Duration, fn func() error) error {
	var err error
	for i := 0; i < attempts; i++ {
		if err = fn(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	return err
}
