package cuda

import "time"

// Event marks a point in the work queued on a stream, so that other
// streams, or the host, can wait for the work before it.
type Event struct {
	dev *Device
	h   uintptr // CUevent
}

// eventDisableTiming is CU_EVENT_DISABLE_TIMING: an event that only
// orders work records no time, which makes it cheaper.
const eventDisableTiming = 0x2

// NewEvent creates an event of the device, for ordering work (it records
// no time). An event never recorded counts as complete.
func (dev *Device) NewEvent() (*Event, error) { return dev.newEvent(eventDisableTiming) }

// NewTimingEvent creates an event of the device that also records when
// the work before it completed, for Elapsed.
func (dev *Device) NewTimingEvent() (*Event, error) { return dev.newEvent(0) }

func (dev *Device) newEvent(flags uint32) (*Event, error) {
	e := &Event{dev: dev}
	if err := dev.call("cuEventCreate", "", func() Result { return dev.d.cuEventCreate(&e.h, flags) }); err != nil {
		return nil, err
	}
	return e, nil
}

// Elapsed returns the device time from start's last Record to end's, two
// timing events (NewTimingEvent) of one device whose work has completed
// (after a Synchronize), to about half a microsecond.
func Elapsed(start, end *Event) (time.Duration, error) {
	var ms float32
	err := end.dev.call("cuEventElapsedTime", "", func() Result { return end.dev.d.cuEventElapsedTime(&ms, start.h, end.h) })
	if err != nil {
		return 0, err
	}
	return time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// Record marks the end of the work queued so far on s (nil: the legacy
// default stream): the event completes when that work has finished. A
// later Record moves the mark.
func (e *Event) Record(s *Stream) error {
	return e.dev.call("cuEventRecord", "", func() Result { return e.dev.d.cuEventRecord(e.h, s.handle()) })
}

// Wait makes the work queued on s (nil: the legacy default stream) after
// this call wait until the event's last Record completes. The host does
// not wait.
func (e *Event) Wait(s *Stream) error {
	return e.dev.call("cuStreamWaitEvent", "", func() Result { return e.dev.d.cuStreamWaitEvent(s.handle(), e.h, 0) })
}

// Synchronize waits until the event's last Record completes, and returns
// the error of the work before it, if any.
func (e *Event) Synchronize() error {
	return e.dev.call("cuEventSynchronize", "", func() Result { return e.dev.d.cuEventSynchronize(e.h) })
}

// Destroy destroys the event; work that waits for it still does.
func (e *Event) Destroy() error {
	return e.dev.call("cuEventDestroy_v2", "", func() Result { return e.dev.d.cuEventDestroy_v2(e.h) })
}
