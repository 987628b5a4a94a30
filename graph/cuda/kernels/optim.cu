// Optimizer steps, element by element, with the arithmetic of
// trainer/optim.go: each update computed in double, and every value that
// PyTorch keeps in a float32 tensor rounded to float where PyTorch stores
// it. One launch updates every tensor of a model (as PyTorch's foreach
// optimizers do): the kernels read the tensors from a table of OptParam
// in device memory (kernels.OptTable), row blockIdx.y of the grid taking
// tensors blockIdx.y, blockIdx.y + gridDim.y, … and the row's blocks
// their elements in a grid-stride loop, so any grid works.
#include "common.cuh"

// OptParam is one tensor of the table, laid out as kernels.OptTable writes
// it: the values, the gradient, the state slots (null where the optimizer
// has none), the length and whether weight decay applies.
struct OptParam {
	float *w;
	const float *grad;
	float *s0, *s1;
	int n, decay;
};

// sgd_f32 is torch.optim.SGD with dampening 0: g = grad + wd·w; with
// momentum mu > 0, v = mu·v + g (v in slot s0) and the update is
// g + mu·v (nesterov ≠ 0) or v; without momentum it is g; w -= lr·update.
// wd applies to the tensors with decay ≠ 0.
KERNEL void sgd_f32(const OptParam *table, int count, double lr, double mu, double wd, int nesterov) {
	for (int t = blockIdx.y; t < count; t += gridDim.y) {
		OptParam p = table[t];
		GRID_STRIDE(j, p.n) {
			double g = p.grad[j];
			if (p.decay && wd != 0) g = (float)(g + wd * (double)p.w[j]);
			double u = g;
			if (mu != 0) {
				float v = (float)(mu * (double)p.s0[j] + g);
				p.s0[j] = v;
				u = v;
				if (nesterov) u = (float)(g + mu * u);
			}
			p.w[j] = (float)((double)p.w[j] - lr * u);
		}
	}
}

// adam_f32 is torch.optim.Adam (decoupled = 0: g = grad + wd·w) or AdamW
// (decoupled ≠ 0: w *= 1 - lr·wd first, g = grad); then m = b1·m + (1-b1)·g,
// v = b2·v + (1-b2)·g² (m and v in slots s0 and s1),
// w -= step_size·m/(sqrt(v)/bc2_sqrt + eps). The host passes
// step_size = lr/(1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) for step t. wd
// applies to the tensors with decay ≠ 0.
KERNEL void adam_f32(const OptParam *table, int count, double lr, double b1, double b2, double eps,
		double wd, int decoupled, double step_size, double bc2_sqrt) {
	for (int t = blockIdx.y; t < count; t += gridDim.y) {
		OptParam p = table[t];
		double d = p.decay ? wd : 0;
		GRID_STRIDE(j, p.n) {
			double wj = p.w[j];
			double g = p.grad[j];
			if (decoupled) {
				if (d != 0) wj = (float)(wj * (1 - lr * d));
			} else if (d != 0) {
				g = (float)(g + d * wj);
			}
			float mj = (float)(b1 * (double)p.s0[j] + (1 - b1) * g);
			float vj = (float)(b2 * (double)p.s1[j] + (1 - b2) * g * g);
			p.s0[j] = mj;
			p.s1[j] = vj;
			double denom = sqrt((double)vj) / bc2_sqrt + eps;
			p.w[j] = (float)(wj - step_size * (double)mj / denom);
		}
	}
}
