// Optimizer steps, element by element, with the arithmetic of
// trainer/optim.go: each update computed in double, and every value that
// PyTorch keeps in a float32 tensor rounded to float where PyTorch stores
// it. One thread per element: launch Grid1(n). wd is 0 for a parameter
// without weight decay.
#include "common.cuh"

// sgd_f32 is torch.optim.SGD with dampening 0: g = grad + wd·w; with
// momentum mu > 0, v = mu·v + g and the update is g + mu·v (nesterov ≠ 0)
// or v; without momentum (vel may then be null) it is g; w -= lr·update.
KERNEL void sgd_f32(float *w, const float *grad, float *vel, int n, double lr, double mu,
		double wd, int nesterov) {
	GRID_STRIDE(j, n) {
		double g = grad[j];
		if (wd != 0) g = (float)(g + wd * (double)w[j]);
		double u = g;
		if (mu != 0) {
			float v = (float)(mu * (double)vel[j] + g);
			vel[j] = v;
			u = v;
			if (nesterov) u = (float)(g + mu * u);
		}
		w[j] = (float)((double)w[j] - lr * u);
	}
}

// adam_f32 is torch.optim.Adam (decoupled = 0: g = grad + wd·w) or AdamW
// (decoupled ≠ 0: w *= 1 - lr·wd first, g = grad); then m = b1·m + (1-b1)·g,
// v = b2·v + (1-b2)·g², w -= step_size·m/(sqrt(v)/bc2_sqrt + eps). The host
// passes step_size = lr/(1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) for step t.
KERNEL void adam_f32(float *w, const float *grad, float *m, float *v, int n, double lr,
		double b1, double b2, double eps, double wd, int decoupled, double step_size,
		double bc2_sqrt) {
	GRID_STRIDE(j, n) {
		double wj = w[j];
		double g = grad[j];
		if (decoupled) {
			if (wd != 0) wj = (float)(wj * (1 - lr * wd));
		} else if (wd != 0) {
			g = (float)(g + wd * wj);
		}
		float mj = (float)(b1 * (double)m[j] + (1 - b1) * g);
		float vj = (float)(b2 * (double)v[j] + (1 - b2) * g * g);
		m[j] = mj;
		v[j] = vj;
		double denom = sqrt((double)vj) / bc2_sqrt + eps;
		w[j] = (float)(wj - step_size * (double)mj / denom);
	}
}
