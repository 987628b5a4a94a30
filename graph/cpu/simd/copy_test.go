package simd

import "testing"

// TestDeinterleaveRows checks the even and odd split of several rows, for
// lengths around the vector width, against the definition, and that
// nothing past the rows' ends is written.
func TestDeinterleaveRows(t *testing.T) {
	withImpls(t, func(t *testing.T) {
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
				DeinterleaveRows(even, odd, dstride, src, sstride, rows, n)
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
	})
}

// TestCopyRows checks the row copy for widths around the vector width,
// and that nothing outside the rows is written.
func TestCopyRows(t *testing.T) {
	withImpls(t, func(t *testing.T) {
		const rows, sstride, dstride = 3, 50, 40
		for w := 0; w <= 40; w++ {
			src := make([]float32, (rows-1)*sstride+w)
			for i := range src {
				src[i] = float32(i)
			}
			dst := make([]float32, rows*dstride)
			for i := range dst {
				dst[i] = -1
			}
			CopyRows(dst, dstride, src, sstride, rows, w)
			for r := range rows {
				for j := range dstride {
					want := float32(-1)
					if j < w {
						want = float32(r*sstride + j)
					}
					if got := dst[r*dstride+j]; got != want {
						t.Fatalf("w=%d: row %d [%d] = %v, want %v", w, r, j, got, want)
					}
				}
			}
		}
	})
}
