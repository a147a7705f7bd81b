package scheduler

import (
	"fmt"

	"github.com/robfig/cron/v3"
)

// specParser accepts the five standard cron fields and the descriptors
// (@hourly, @daily, @every 15m, ...). Seconds are not offered: no feed
// deserves to be polled more than once a minute.
var specParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidateSpec reports whether spec is a schedule syndic can run.
func ValidateSpec(spec string) error {
	if _, err := specParser.Parse(spec); err != nil {
		return fmt.Errorf("invalid cron spec %q: %w", spec, err)
	}
	return nil
}
