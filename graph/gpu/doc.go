// Package gpu computes the operations of package graph on a CUDA device:
// Backend implements backend.Backend by launching the kernels of package
// graph/cuda/kernels, and Engine is the tensor.Engine whose tensors live
// in device memory.
//
// A device tensor is a *tensor.Dense made by Engine (NewTensor, or
// tensor.New with tensor.WithEngine): its memory is device memory, so its
// Data must never be read or written on the host; Upload and Download move
// values between host slices and device tensors. The backend accepts only
// device tensors of its own engine, float32 for the data (the kernels have
// no float64 versions) and float64 for the saved batch-norm statistics and
// sums, and says which argument is wrong otherwise.
package gpu
