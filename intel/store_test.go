package intel_test

import (
	"testing"
	"time"

	"github.com/socbot/socbot/intel"
	"github.com/socbot/socbot/storetest"
)

// TestMemStoreSuite holds the reference store to the suite the SQL store passes on both engines.
func TestMemStoreSuite(t *testing.T) {
	storetest.RunIntel(t, storetest.IntelInstance{Store: intel.NewMemStore(), Clock: storetest.NewClock(time.Now())})
}
