package gpu

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/cifar-resnet/trainer/graph/cuda"
)

// An upload from page-locked host memory (NewHostTensor: the inputs of a
// net, uploaded at every run) goes through a staging buffer of its
// destination, so that the copy over the bus runs alongside the kernels
// queued before it instead of after them:
//
//  1. the engine's copy stream, which does not synchronise with the legacy
//     default stream, waits until the last copy out of the staging buffer
//     is done (the stage's free event);
//  2. it copies the host memory into the staging buffer (recording the
//     staged event), while the device still runs the work queued before;
//  3. the legacy default stream waits for the staged event, then copies
//     the staging buffer into the destination, after the work queued
//     before, as a device-to-device copy (microseconds), and records the
//     free event;
//  4. the host waits for step 2 only, after which the host memory may
//     change.
//
// To the kernels, and to Download, the destination changes where the
// upload is in the order of the default stream, as with a plain upload; a
// plain upload would also wait for the work queued before, then leave the
// device idle during the copy.

// stage is the staging buffer of one destination and its two events.
type stage struct {
	dev          *cuda.Device
	buf          cuda.Ptr
	staged, free *cuda.Event
}

// stagedUpload copies src, page-locked host memory, to device memory at
// dst, a device allocation of e that src fits, through dst's stage.
func stagedUpload[T any](e *Engine, dst cuda.Ptr, src []T) (err error) {
	bytes := uint64(len(src)) * uint64(unsafe.Sizeof(src[0]))
	st, copies, err := e.stage(dst)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("gpu: upload of %d bytes: %w", bytes, err)
		}
	}()
	if err := st.free.Wait(copies); err != nil {
		return err
	}
	if err := cuda.UploadAsync(copies, e.dev, st.buf, src); err != nil {
		return err
	}
	if err := st.staged.Record(copies); err != nil {
		return err
	}
	if err := st.staged.Wait(nil); err != nil {
		return err
	}
	if err := e.dev.Copy(dst, st.buf, bytes); err != nil {
		return err
	}
	if err := st.free.Record(nil); err != nil {
		return err
	}
	return st.staged.Synchronize()
}

// pageLocked reports whether src lies in the memory of a host tensor of
// the engine (NewHostTensor).
func pageLocked[T any](e *Engine, src []T) bool {
	if len(src) == 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.hosts[uintptr(unsafe.Pointer(unsafe.SliceData(src)))]
	return ok && uint64(len(src))*uint64(unsafe.Sizeof(src[0])) <= h.bytes
}

// stage returns the stage of dst, a device allocation of the engine,
// made at the first call with a buffer of the allocation's size, which
// every upload to dst fits (upload checks the tensor against the
// allocation), and the copy stream, made at the first call for any dst.
func (e *Engine) stage(dst cuda.Ptr) (*stage, *cuda.Stream, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.stages[dst]; ok {
		return st, e.copies, nil
	}
	if e.copies == nil {
		s, err := e.dev.NewNonBlockingStream()
		if err != nil {
			return nil, nil, fmt.Errorf("gpu: upload stream: %w", err)
		}
		e.copies = s
	}
	st := &stage{dev: e.dev}
	var err error
	if st.buf, err = e.dev.Alloc(max(e.alloc[dst], 4)); err != nil {
		return nil, nil, fmt.Errorf("gpu: staging buffer of an upload: %w", err)
	}
	if st.staged, err = e.dev.NewEvent(); err == nil {
		st.free, err = e.dev.NewEvent()
	}
	if err != nil {
		return nil, nil, errors.Join(fmt.Errorf("gpu: upload events: %w", err), st.release())
	}
	e.stages[dst] = st
	return st, e.copies, nil
}

// release frees the stage's buffer and events once the copies queued on
// them are done.
func (st *stage) release() error {
	var errs []error
	if st.staged != nil {
		// Freeing the buffer must not overtake the copy into it.
		errs = append(errs, st.staged.Synchronize(), st.staged.Destroy())
	}
	if st.free != nil {
		errs = append(errs, st.free.Synchronize(), st.free.Destroy())
	}
	errs = append(errs, st.dev.Free(st.buf))
	return errors.Join(errs...)
}

// dropStage releases the stage of dst, if any, when dst is freed.
func (e *Engine) dropStage(dst cuda.Ptr) error {
	e.mu.Lock()
	st, ok := e.stages[dst]
	delete(e.stages, dst)
	e.mu.Unlock()
	if !ok {
		return nil
	}
	return st.release()
}

// closeStages releases every stage and the copy stream.
func (e *Engine) closeStages() error {
	e.mu.Lock()
	stages, copies := e.stages, e.copies
	e.stages, e.copies = map[cuda.Ptr]*stage{}, nil
	e.mu.Unlock()
	var errs []error
	for _, st := range stages {
		errs = append(errs, st.release())
	}
	if copies != nil {
		errs = append(errs, copies.Destroy())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gpu: %w", err)
	}
	return nil
}
