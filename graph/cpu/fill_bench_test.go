package cpu

import "testing"

func BenchmarkFill(b *testing.B) {
	for _, bc := range benchConvs {
		for _, hot := range []bool{false, true} {
			name := bc.name + "/batch"
			if hot {
				name = bc.name + "/hot"
			}
			b.Run(name, func(b *testing.B) {
				g := benchGeom(bc.n, bc.c, bc.h, bc.k, bc.r, bc.s, bc.p)
				p := planFor(g)
				x := randSlice(g.N * g.C * g.H * g.W)
				src := make([]float32, p.srcLen())
				chw := g.C * g.H * g.W
				for b.Loop() {
					for n := range g.N {
						if hot {
							n = 0
						}
						p.fill(x[n*chw:(n+1)*chw], src)
					}
				}
				b.ReportMetric(float64(b.N*g.N)/b.Elapsed().Seconds(), "img/s")
			})
		}
	}
}
