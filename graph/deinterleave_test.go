package graph

import "testing"

// TestDeinterleaveRows checks the even and odd split of several rows, for
// lengths around the vector width, against the definition, and that
// nothing past the rows' ends is written.
func TestDeinterleaveRows(t *testing.T) {
	const rows, sstride, dstride = 3, 80, 40
	for n := 1; n <= 36; n++ {
		for _, withOdd := range []bool{true, false} {
			need := 2 * n
			if !withOdd {
				need--
			}
			// src ends right after the last element the last row needs.
			src := make([]float32, (rows-1)*sstride+need)
			for i := range src {
				src[i] = float32(i)
			}
			even := make([]float32, rows*dstride)
			var odd []float32
			if withOdd {
				odd = make([]float32, rows*dstride)
			}
			for i := range even {
				even[i] = -1
				if odd != nil {
					odd[i] = -1
				}
			}
			deinterleaveRows(even, odd, dstride, src, sstride, rows, n)
			for r := range rows {
				for j := range dstride {
					we, wo := float32(-1), float32(-1)
					if j < n {
						we, wo = float32(r*sstride+2*j), float32(r*sstride+2*j+1)
					}
					if even[r*dstride+j] != we {
						t.Fatalf("n=%d odd=%v: even row %d [%d] = %v, want %v", n, withOdd, r, j, even[r*dstride+j], we)
					}
					if odd != nil && odd[r*dstride+j] != wo {
						t.Fatalf("n=%d: odd row %d [%d] = %v, want %v", n, r, j, odd[r*dstride+j], wo)
					}
				}
			}
		}
	}
}

// TestGAPFloat32 checks the vectorised float32 global average pool on rows
// whose means are known exactly.
func TestGAPFloat32(t *testing.T) {
	const hw = 64
	x := make([]float32, 3*hw)
	for i := range x {
		x[i] = float32(i % hw) // each row holds 0..63: mean 31.5
	}
	x[2*hw+5] += 64 // the third row's mean is 32.5
	y := make([]float32, 3)
	gapForward(hw, x, y)
	for i, want := range []float32{31.5, 31.5, 32.5} {
		if y[i] != want {
			t.Errorf("mean of row %d = %v, want %v", i, y[i], want)
		}
	}
}
